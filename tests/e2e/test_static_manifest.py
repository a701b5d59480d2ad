"""The sandbox pages as production serves them: DEBUG off, collectstatic with the manifest storage,
WhiteNoise serving only the collected (hashed) files. Every module loads under its hashed name and
no page logs a console error, at desktop and phone widths.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client, override_settings
from django.test.testcases import LiveServerThread
from playwright.sync_api import Browser, expect

from inference.models import Experiment, ExperimentStatus, LabJob, LabKind, RunStatus, SandboxRun
from tests.static_build import PRODUCTION_STORAGES, collectstatic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HASHED_MODULE = re.compile(r"/static/js/.+\.[0-9a-f]{12}\.js$")


def _session_cookie(user, url: str) -> dict:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": url,
    }


@pytest.fixture
def production_server(tmp_path: Path) -> Iterator[str]:
    """A live server with no static files handler in front: WhiteNoise serves STATIC_ROOT, as in production."""
    collectstatic(tmp_path)
    with override_settings(
        DEBUG=False,
        STATIC_ROOT=tmp_path,
        STORAGES=PRODUCTION_STORAGES,
        WHITENOISE_USE_FINDERS=False,
        WHITENOISE_AUTOREFRESH=False,
    ):
        shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
        thread = LiveServerThread("localhost", lambda app: app, connections_override=shared)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        yield f"http://localhost:{thread.port}"
        thread.terminate()


EXPERIMENT_EXPORTS = """async () => {
  const module = await import(document.querySelector('script[type=module][src*="/js/experiment."]').src);
  const outcomes = [{ label: "Red", p: 0.5 }, { label: "Blue", p: 0.3 }, { label: "any other token", p: 0.2 }];
  const arm = {
    temperature: 1, greedy: false, runs_done: 2, runs_pending: 0, runs_failed: 0, fit_words: "", mean_entropy_bits: null,
    outputs: [], distinct_outputs: 0, other_p: 0,
    first_token: [{ text: "Red", count: 1, p_predicted: 0.5 }, { text: "\\n", count: 1, p_predicted: 0.000001 }],
  };
  const node = module.armNode(arm, 0);
  return {
    counts: Object.fromEntries(module.draw(outcomes, 7)),
    again: Object.fromEntries(module.draw(outcomes, 7)),
    caption: node.querySelector("caption").textContent,
    model: [...node.querySelectorAll("tbody td:last-child")].map((td) => td.textContent.trim()),
  };
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_sandbox_pages_load_their_hashed_modules_without_errors(
    browser: Browser, production_server, world, smollm2, width
):
    run = SandboxRun.objects.create(
        membership=world.alice_membership,
        model=smollm2,
        status=RunStatus.DONE,
        request={"prompt": "Once upon a time"},
        params={"temperature": 0.8, "max_tokens": 1, "seed": 7},
        seed=7,
        tokens=[{"id": 1, "text": " there", "p_model": 0.5, "p_sampled": 0.6, "top_model": [], "top_sampled": []}],
        output_text=" there",
        finish_reason="length",
    )
    job = LabJob.objects.create(
        membership=world.alice_membership,
        model=smollm2,
        kind=LabKind.SWEEP,
        input={"request": {"prompt": "x"}, "temperatures": [0, 1], "seeds": 1, "max_tokens": 4, "step": 0},
        status=RunStatus.FAILED,
        error="x",
    )
    # Closed and without runs: the results page polls once and stops.
    experiment = Experiment.objects.create(
        cohort=world.cohort,
        created_by=world.alice_membership,
        title="Pick a colour",
        model=smollm2,
        request={"messages": [{"role": "user", "content": "Name one colour."}]},
        params={"max_tokens": 4, "top_k": 0, "top_p": 1.0, "min_p": 0.0},
        temperatures=[0.0, 1.0],
        status=ExperimentStatus.CLOSED,
    )
    context = browser.new_context(base_url=production_server, viewport={"width": width, "height": 900})
    context.add_cookies([_session_cookie(world.alice, production_server)])
    page = context.new_page()
    errors: list[str] = []
    modules: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
    page.on("request", lambda r: r.resource_type == "script" and "/static/js/" in r.url and modules.append(r.url))

    pages = {
        "/sandbox/": (page.locator("#sb-prompt-count"), re.compile(r"^\d+ tokens")),
        f"/sandbox/runs/{run.pk}/": (page.locator("#sb-output-tokens .chip"), re.compile("there")),
        "/sandbox/labs/": (page.locator("#tree-status"), re.compile(rf"Run #{run.pk}: 1 run")),
        f"/sandbox/labs/{job.pk}/": (page.locator("#lab-result"), re.compile("The lab failed: x")),
        f"/sandbox/models/{smollm2.slug}/inspect/": (page.locator("#tensor-count"), re.compile(r"tensors")),
        # The module shows the simulation panel (hidden without JavaScript).
        f"/sandbox/experiments/{experiment.pk}/": (
            page.locator("#experiment-simulate:not([hidden]) h2"),
            re.compile("Law of large numbers"),
        ),
    }
    for path, (locator, text) in pages.items():
        modules.clear()
        page.goto(path)
        expect(locator.first).to_contain_text(text)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        # One round trip: every module the page needs was announced in its head (the entry or a preload).
        announced = page.eval_on_selector_all(
            "script[src], link[rel=modulepreload]", "nodes => nodes.map(n => n.src || n.href)"
        )
        assert modules and set(modules) <= set(announced), path
        assert [url for url in modules if not HASHED_MODULE.search(url)] == [], path
    # The experiment module's exports, from its hashed file: the seeded draws repeat, and an arm is
    # drawn in the sandbox's vocabulary and number formats.
    found = page.evaluate(EXPERIMENT_EXPORTS)
    assert found["again"] == found["counts"]
    assert sum(found["counts"].values()) == 1000
    assert abs(found["counts"]["Red"] - 500) < 80 and abs(found["counts"]["Blue"] - 300) < 80
    assert found["caption"] == "Token 1 of the output: the room against the model"
    assert found["model"] == ["50.0%", "<0.001%"]
    page.goto(f"/sandbox/models/{smollm2.slug}/inspect/")
    page.get_by_label("Filter by name or type").fill("blk.0")
    expect(page.locator("#tensor-count")).to_contain_text("of")
    context.close()

    assert errors == []
