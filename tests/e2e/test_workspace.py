"""The sandbox as a workspace: a run's own URL restores it, the draft survives a reload, two runs compare.

Runs are stored rows with tokens (no worker needed); the model is the real SmolLM2 file, so the
page's prompt view tokenizes for real.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from inference.models import RunStatus, SandboxModel, SandboxRun

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _token(token_id: int, text: str, p: float) -> dict:
    top = [{"id": token_id, "text": text, "p": p}]
    return {"id": token_id, "text": text, "p_model": p, "p_sampled": p, "top_model": top, "top_sampled": top}


def _run(membership, model, *, question: str, temperature: float, seed: int, tokens: list[dict]) -> SandboxRun:
    return SandboxRun.objects.create(
        membership=membership,
        model=model,
        status=RunStatus.DONE,
        request={"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}]},
        params={"temperature": temperature, "top_k": 20, "top_p": 0.9, "min_p": 0.0, "max_tokens": 24, "seed": seed},
        seed=seed,
        tokens=tokens,
        output_text="".join(t["text"] for t in tokens),
        finish_reason="length",
    )


def _ready(page: Page) -> None:
    # The module script has run once the prompt view shows the tokens of the restored chat.
    expect(page.locator("#sb-prompt-count")).to_have_text(re.compile(r"^\d+ tokens"))


def test_run_page_restores_settings_and_survives_reload_and_back(page: Page, world, smollm2, sign_in):
    first = _run(
        world.alice_membership,
        smollm2,
        question="Name a river.",
        temperature=1.3,
        seed=1234,
        tokens=[_token(1, "The", 0.4), _token(2, " Nile", 0.3)],
    )
    second = _run(
        world.alice_membership,
        smollm2,
        question="Name a mountain.",
        temperature=0.2,
        seed=99,
        tokens=[_token(3, "Everest", 0.8)],
    )
    sign_in(page, world.alice)

    page.goto(f"/sandbox/runs/{first.pk}/")
    _ready(page)
    expect(page.get_by_label("Temperature")).to_have_value("1.3")
    expect(page.get_by_label("Seed")).to_have_value("1234")
    expect(page.get_by_label("Top-k")).to_have_value("20")
    expect(page.locator("#sb-content-1")).to_have_value("Name a river.")
    expect(page.locator("#sb-output-tokens .chip")).to_have_count(2)
    expect(page.locator("#sb-output-run")).to_have_text(f"· run #{first.pk}")

    page.reload()
    _ready(page)
    expect(page.get_by_label("Temperature")).to_have_value("1.3")
    expect(page.locator("#sb-content-1")).to_have_value("Name a river.")

    # Opening another run from the history puts it in the address bar; back returns to the first.
    page.locator(f'#sb-history [data-run="{second.pk}"]').click()
    expect(page).to_have_url(re.compile(rf"/sandbox/runs/{second.pk}/$"))
    expect(page.get_by_label("Temperature")).to_have_value("0.2")
    expect(page.locator("#sb-content-1")).to_have_value("Name a mountain.")
    page.go_back()
    expect(page).to_have_url(re.compile(rf"/sandbox/runs/{first.pk}/$"))
    expect(page.get_by_label("Temperature")).to_have_value("1.3")
    expect(page.locator("#sb-output-run")).to_have_text(f"· run #{first.pk}")


def test_sandbox_draft_survives_reload(page: Page, world, smollm2, sign_in):
    sign_in(page, world.alice)

    page.goto("/sandbox/")
    _ready(page)
    page.locator("#sb-content-1").fill("A draft question about tokens.")
    page.get_by_label("Temperature").fill("0.35")
    page.wait_for_timeout(600)  # the draft is saved a moment after typing stops
    page.reload()
    _ready(page)

    expect(page.locator("#sb-content-1")).to_have_value("A draft question about tokens.")
    expect(page.get_by_label("Temperature")).to_have_value("0.35")


def test_compare_two_runs_shows_first_divergence(page: Page, world, smollm2, sign_in):
    a = _run(
        world.alice_membership,
        smollm2,
        question="Name a river.",
        temperature=0.7,
        seed=1,
        tokens=[_token(1, "The", 0.9), _token(2, " Nile", 0.42), _token(3, ".", 0.8)],
    )
    b = _run(
        world.alice_membership,
        smollm2,
        question="Name a river.",
        temperature=1.5,
        seed=1,
        tokens=[_token(1, "The", 0.9), _token(4, " Amazon", 0.07)],
    )
    sign_in(page, world.alice)

    # From the run page's compare form, as a learner would get there.
    page.goto(f"/sandbox/runs/{a.pk}/")
    _ready(page)
    page.get_by_label("with run").fill(str(b.pk))
    page.get_by_role("button", name="Compare").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Run #{a.pk} and run #{b.pk}")
    expect(page.locator("#cmp-divergence")).to_contain_text("first differ at token 2")
    divergence = page.locator("#first-divergence")
    expect(divergence).to_contain_text("Nile")
    expect(divergence).to_contain_text("42.0%")
    expect(divergence).to_contain_text("Amazon")
    expect(divergence).to_contain_text("7.0%")
    differing = page.locator(".compare-settings tr.differs th")
    expect(differing).to_have_count(1)
    expect(differing).to_contain_text("Temperature")
    expect(page.locator("#cmp-score-a")).to_contain_text("3")


def test_another_learners_unshared_run_is_404_by_url(page: Page, world, smollm2, sign_in):
    run = _run(
        world.alice_membership, smollm2, question="Private.", temperature=0.7, seed=5, tokens=[_token(1, "x", 0.5)]
    )
    sign_in(page, world.bob)

    response = page.goto(f"/sandbox/runs/{run.pk}/")

    assert response is not None and response.status == 404
    expect(page.get_by_text("Private.")).to_have_count(0)


def test_history_filters_by_model_and_says_why_a_run_failed(page: Page, world, smollm2, sign_in):
    twin = SandboxModel.objects.create(
        **{
            f.name: getattr(smollm2, f.name)
            for f in SandboxModel._meta.concrete_fields
            if f.name not in ("id", "added_at")
        }
        | {"slug": "smollm2-twin", "name": "SmolLM2 twin"}
    )
    ok = _run(world.alice_membership, smollm2, question="Q1", temperature=0.7, seed=1, tokens=[_token(1, "a", 0.5)])
    failed = _run(world.alice_membership, twin, question="Q2", temperature=0.7, seed=2, tokens=[])
    SandboxRun.objects.filter(pk=failed.pk).update(status=RunStatus.FAILED, error="The worker ran out of memory.")
    sign_in(page, world.alice)

    page.goto("/sandbox/")
    _ready(page)
    history = page.locator("#sb-history")
    expect(history).to_contain_text("Failed: The worker ran out of memory.")
    page.get_by_label("Show runs of").select_option("smollm2-twin")

    expect(history.locator(f'[data-run="{ok.pk}"]')).to_be_hidden()
    expect(history.locator(f'[data-run="{failed.pk}"]')).to_be_visible()


def test_shared_run_opens_for_the_cohort_and_back_returns_to_it(page: Page, world, smollm2, sign_in):
    shared = _run(
        world.alice_membership, smollm2, question="Shared one.", temperature=0.9, seed=7, tokens=[_token(1, "a", 0.5)]
    )
    SandboxRun.objects.filter(pk=shared.pk).update(shared=True)
    own = _run(world.bob_membership, smollm2, question="Mine.", temperature=0.1, seed=8, tokens=[_token(2, "b", 0.5)])
    sign_in(page, world.bob)

    page.goto(f"/sandbox/runs/{shared.pk}/")
    _ready(page)
    expect(page.get_by_text("Shared by Alice")).to_be_visible()
    expect(page.locator("#sb-content-1")).to_have_value("Shared one.")
    page.locator(f'#sb-history [data-run="{own.pk}"]').click()
    expect(page).to_have_url(re.compile(rf"/sandbox/runs/{own.pk}/$"))
    expect(page.locator("#sb-content-1")).to_have_value("Mine.")
    page.go_back()

    expect(page).to_have_url(re.compile(rf"/sandbox/runs/{shared.pk}/$"))
    expect(page.locator("#sb-content-1")).to_have_value("Shared one.")
    expect(page.get_by_label("Temperature")).to_have_value("0.9")


def test_run_tree_scores_paths_per_token_and_links_to_compare(page: Page, world, smollm2, sign_in):
    root = _run(
        world.alice_membership,
        smollm2,
        question="Name a river.",
        temperature=0.7,
        seed=3,
        tokens=[_token(1, "The", 0.9), _token(2, " Nile", 0.5)],
    )
    branch = _run(
        world.alice_membership,
        smollm2,
        question="Name a river.",
        temperature=0.7,
        seed=3,
        tokens=[_token(1, "The", 0.9), _token(4, " Amazon", 0.25)],
    )
    SandboxRun.objects.filter(pk=branch.pk).update(parent=root, branch_step=1)
    sign_in(page, world.alice)

    page.goto("/sandbox/labs/")
    page.locator("#tree-run").select_option(str(root.pk))
    page.get_by_role("button", name="Show tree").click()
    page.locator(f'.tree-node[data-id="{root.pk}"]').click()
    page.locator(f'.tree-node[data-id="{branch.pk}"]').click()

    compare = page.locator("#tree-compare")
    expect(compare).to_contain_text("perplexity per token 2.00")
    expect(compare).to_contain_text("perplexity per token 4.00")
    compare.get_by_role("link", name="Compare these two runs token by token").click()
    expect(page.locator("#cmp-divergence")).to_contain_text("first differ at token 2")
