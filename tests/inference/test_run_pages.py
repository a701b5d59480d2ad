"""Run pages, sharing and comparing: a run is its owner's unless shared with the cohort; outsiders get 404."""

from __future__ import annotations

import math

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cohort.models import Cohort, Role
from inference import compare_cache, selectors
from inference.models import RunStatus, SandboxRun
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("account_login")


def _token(token_id: int, text: str, p: float) -> dict:
    return {
        "id": token_id,
        "text": text,
        "p_model": p,
        "p_sampled": p,
        "top_model": [{"id": token_id, "text": text, "p": p}],
        "top_sampled": [{"id": token_id, "text": text, "p": p}],
    }


def _run(membership, model, *, tokens=None, shared=False, temperature=0.7, seed=42, **fields) -> SandboxRun:
    tokens = tokens if tokens is not None else [_token(504, "Paris", 0.5), _token(30, ".", 0.25)]
    return SandboxRun.objects.create(
        membership=membership,
        model=model,
        status=fields.pop("status", RunStatus.DONE),
        request={"messages": [{"role": "user", "content": "Capital of France?"}]},
        params={"temperature": temperature, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "max_tokens": 16, "seed": seed},
        seed=seed,
        tokens=tokens,
        output_text="".join(t["text"] for t in tokens),
        finish_reason="stop",
        shared=shared,
        **fields,
    )


def _other_lead():
    return MembershipFactory(cohort=Cohort.objects.get(slug="cohort-b"), role=Role.LEAD).user


# --- The run page ---------------------------------------------------------------------------


def test_run_page_owner_sees_run_settings_and_share_button(world, smollm2):
    run = _run(world.alice_membership, smollm2)

    response = world.client_for(world.alice).get(reverse("inference:run_page", args=[run.pk]))

    assert response.status_code == 200
    assert response.context["run_data"]["id"] == run.pk
    assert response.context["run_data"]["params"]["temperature"] == 0.7
    assert b'id="sandbox-run"' in response.content
    assert b"Share with the cohort" in response.content


@pytest.mark.parametrize("who", ["bob", "lead", "outsider", "other_lead"])
def test_run_page_unshared_is_404_for_everyone_else(world, smollm2, who):
    run = _run(world.alice_membership, smollm2)
    user = _other_lead() if who == "other_lead" else getattr(world, who)

    response = world.client_for(user).get(reverse("inference:run_page", args=[run.pk]))

    assert response.status_code == 404


@pytest.mark.parametrize("who", ["bob", "lead"])
def test_run_page_shared_opens_for_the_cohort(world, smollm2, who):
    run = _run(world.alice_membership, smollm2, shared=True)

    response = world.client_for(getattr(world, who)).get(reverse("inference:run_page", args=[run.pk]))

    assert response.status_code == 200
    assert b"Shared by Alice" in response.content
    assert b"Share with the cohort" not in response.content


@pytest.mark.parametrize("who", ["outsider", "other_lead"])
def test_run_page_shared_is_404_for_another_cohort(world, smollm2, who):
    run = _run(world.alice_membership, smollm2, shared=True)
    user = _other_lead() if who == "other_lead" else world.outsider

    response = world.client_for(user).get(reverse("inference:run_page", args=[run.pk]))

    assert response.status_code == 404


def test_run_pages_anonymous_redirect_to_login(world, smollm2):
    run = _run(world.alice_membership, smollm2, shared=True)
    urls = [
        reverse("inference:run_page", args=[run.pk]),
        f"{reverse('inference:compare')}?a={run.pk}&b={run.pk}",
    ]

    responses = [Client().get(url) for url in urls]
    share = Client().post(reverse("inference:run_share", args=[run.pk]), {"shared": "0"})

    assert all(r.status_code == 302 and r.url.startswith(f"{LOGIN_URL}?next=") for r in [*responses, share])
    assert SandboxRun.objects.get(pk=run.pk).shared is True


@pytest.mark.parametrize("tokens", [1, 300])
def test_run_page_query_count_constant(world, smollm2, tokens, django_assert_num_queries):
    run = _run(world.alice_membership, smollm2, tokens=[_token(1, "a", 0.5)] * tokens)
    for _ in range(5):
        _run(world.alice_membership, smollm2)
    client = world.client_for(world.alice)

    # session, user, run (with model and owner), membership, models, history
    with django_assert_num_queries(6):
        response = client.get(reverse("inference:run_page", args=[run.pk]))

    assert response.status_code == 200


# --- Sharing --------------------------------------------------------------------------------


def test_run_share_owner_shares_and_unshares(world, smollm2):
    run = _run(world.alice_membership, smollm2)
    client = world.client_for(world.alice)
    url = reverse("inference:run_share", args=[run.pk])

    shared = client.post(url, {"shared": "1"})
    opened_by_bob = world.client_for(world.bob).get(reverse("inference:run_page", args=[run.pk]))
    client.post(url, {"shared": "0"})

    assert shared.status_code == 302 and shared.url == reverse("inference:run_page", args=[run.pk])
    assert opened_by_bob.status_code == 200
    assert SandboxRun.objects.get(pk=run.pk).shared is False


@pytest.mark.parametrize("who", ["bob", "lead", "outsider"])
def test_run_share_by_anyone_else_is_404(world, smollm2, who):
    run = _run(world.alice_membership, smollm2, shared=who == "bob")

    response = world.client_for(getattr(world, who)).post(
        reverse("inference:run_share", args=[run.pk]), {"shared": "0" if who == "bob" else "1"}
    )

    assert response.status_code == 404
    assert SandboxRun.objects.get(pk=run.pk).shared is (who == "bob")


def test_run_share_needs_csrf_token(world, smollm2):
    run = _run(world.alice_membership, smollm2)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice, backend="django.contrib.auth.backends.ModelBackend")

    response = client.post(reverse("inference:run_share", args=[run.pk]), {"shared": "1"})

    assert response.status_code == 403
    assert SandboxRun.objects.get(pk=run.pk).shared is False


def test_run_share_get_not_allowed(world, smollm2):
    run = _run(world.alice_membership, smollm2)

    response = world.client_for(world.alice).get(reverse("inference:run_share", args=[run.pk]))

    assert response.status_code == 405


# --- Compare --------------------------------------------------------------------------------


def _compare_url(a: int, b: int) -> str:
    return f"{reverse('inference:compare')}?a={a}&b={b}"


def test_compare_own_runs_marks_settings_and_divergence(world, smollm2):
    a = _run(world.alice_membership, smollm2, temperature=0.7)
    b = _run(world.alice_membership, smollm2, temperature=1.2, tokens=[_token(504, "Paris", 0.5), _token(0, "!", 0.1)])

    response = world.client_for(world.alice).get(_compare_url(a.pk, b.pk))

    assert response.status_code == 200
    comparison = response.context["comparison"]
    assert [label for label, _, _, differs in comparison.settings if differs] == ["Temperature"]
    assert comparison.first_divergence == 2
    assert b'id="first-divergence"' in response.content
    assert b"25.0%" in response.content and b"10.0%" in response.content


def test_compare_with_a_shared_run_of_the_cohort(world, smollm2):
    mine = _run(world.bob_membership, smollm2)
    theirs = _run(world.alice_membership, smollm2, shared=True)

    response = world.client_for(world.bob).get(_compare_url(mine.pk, theirs.pk))

    assert response.status_code == 200


@pytest.mark.parametrize("who", ["bob", "lead", "outsider", "other_lead"])
def test_compare_with_an_unshared_run_is_404(world, smollm2, who):
    user = _other_lead() if who == "other_lead" else getattr(world, who)
    theirs = _run(world.alice_membership, smollm2)
    shared = _run(world.alice_membership, smollm2, shared=True)

    response = world.client_for(user).get(_compare_url(shared.pk, theirs.pk))

    assert response.status_code == 404


def _body(response) -> bytes:
    """The comparison itself: the rest of the page carries a per-request nonce and CSRF token."""
    content = response.content
    start = content.index(b'aria-labelledby="cmp-settings-heading"')
    return content[start : content.index(b"</main>", start)]


@pytest.mark.parametrize("query", ["", "?a=1", "?a=x&b=2"])
def test_compare_bad_ids_is_400(world, query):
    response = world.client_for(world.alice).get(f"{reverse('inference:compare')}{query}")

    assert response.status_code == 400


@pytest.mark.parametrize("tokens", [1, 512])
def test_compare_query_count_constant(world, smollm2, tokens, django_assert_num_queries):
    a = _run(world.alice_membership, smollm2, tokens=[_token(1, "a", 0.5)] * tokens)
    b = _run(world.alice_membership, smollm2, tokens=[_token(2, "b", 0.5)] * tokens)
    client = world.client_for(world.alice)

    # session, user, both runs' permission columns, both runs in full (with models)
    with django_assert_num_queries(4):
        response = client.get(_compare_url(a.pk, b.pk))
    # warm: the full runs are not read again
    with django_assert_num_queries(3):
        warm = client.get(_compare_url(a.pk, b.pk))

    assert response.status_code == 200 and warm.status_code == 200
    assert len(response.context["comparison"].rows) == tokens
    assert _body(warm) == _body(response)


def test_compare_cached_page_equals_uncached(world, smollm2):
    a = _run(world.alice_membership, smollm2, temperature=0.7)
    b = _run(world.alice_membership, smollm2, temperature=1.2, tokens=[_token(504, "Paris", 0.5), _token(0, "!", 0.1)])
    client = world.client_for(world.alice)

    cold = client.get(_compare_url(a.pk, b.pk))
    assert cache.get(compare_cache.cache_key(a, b)) is not None
    warm = client.get(_compare_url(a.pk, b.pk))
    cache.clear()
    again = client.get(_compare_url(a.pk, b.pk))

    assert cold.status_code == warm.status_code == 200
    assert _body(cold) == _body(warm) == _body(again)
    assert b'id="first-divergence"' in warm.content


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.RUNNING])
def test_compare_unfinished_run_is_not_cached(world, smollm2, status, django_assert_num_queries):
    a = _run(world.alice_membership, smollm2)
    b = _run(world.alice_membership, smollm2, status=status, tokens=[_token(504, "Paris", 0.5)])
    client = world.client_for(world.alice)

    first = client.get(_compare_url(a.pk, b.pk))
    assert compare_cache.cache_key(a, b) is None
    # the run goes on: the next request shows its new tokens (the full runs are read again)
    SandboxRun.objects.filter(pk=b.pk).update(
        status=RunStatus.DONE, tokens=[_token(504, "Paris", 0.5), _token(0, "Rome", 0.1)]
    )
    with django_assert_num_queries(4):
        second = client.get(_compare_url(a.pk, b.pk))

    assert first.status_code == second.status_code == 200
    assert b"Rome" not in first.content and b"Rome" in second.content


def test_compare_run_finishing_between_queries_is_not_cached(world, smollm2):
    a = _run(world.alice_membership, smollm2)
    b = _run(world.alice_membership, smollm2)
    running = SandboxRun.objects.only("pk", "status", "created_at").get(pk=b.pk)
    running.status = RunStatus.RUNNING  # as read by the light query, before the run ended

    compare_cache.comparison_body(SandboxRun.objects.get(pk=a.pk), running)

    assert compare_cache.cache_key(a, running) is None
    assert cache.get(compare_cache.cache_key(a, b)) is None


@pytest.mark.parametrize("who", ["bob", "outsider", "other_lead"])
def test_compare_warm_cache_still_checks_permission(world, smollm2, who):
    shared = _run(world.alice_membership, smollm2, shared=True)
    theirs = _run(world.alice_membership, smollm2)
    assert world.client_for(world.alice).get(_compare_url(shared.pk, theirs.pk)).status_code == 200
    assert cache.get(compare_cache.cache_key(shared, theirs)) is not None

    user = _other_lead() if who == "other_lead" else getattr(world, who)
    response = world.client_for(user).get(_compare_url(shared.pk, theirs.pk))

    assert response.status_code == 404
    assert b"Paris" not in response.content


# --- History and the default model ----------------------------------------------------------


def test_sandbox_history_shows_failure_reason(world, smollm2):
    _run(world.alice_membership, smollm2, status=RunStatus.FAILED, tokens=[], error="The model file is missing.")

    response = world.client_for(world.alice).get(reverse("inference:sandbox"))

    assert b"Failed: The model file is missing." in response.content
    assert b'data-model="smollm2-135m"' in response.content


def test_sandbox_default_model_is_a_trained_one(world, smollm2):
    smollm2.__class__.objects.create(slug="qwen3-tiny", name="Qwen3 tiny (random weights, real tokenizer)", path="/x")

    response = world.client_for(world.alice).get(reverse("inference:sandbox"))

    assert response.context["default_model"] == "smollm2-135m"
    tiny = next(m for m in response.context["models"] if m["slug"] == "qwen3-tiny")
    assert "random weights" in tiny["note"]


# --- Selector: alignment and perplexity -----------------------------------------------------


def test_align_tokens_first_divergence_and_unequal_lengths():
    a = [_token(1, "The", 0.9), _token(2, " cat", 0.5), _token(3, " sat", 0.4)]
    b = [_token(1, "The", 0.9), _token(4, " dog", 0.3)]

    rows, divergence = selectors.align_tokens(a, b)

    assert divergence == 2
    assert [r.same for r in rows] == [True, False, False]
    assert [r.first_divergence for r in rows] == [False, True, False]
    assert rows[2].b is None and rows[2].a["text"] == " sat"


def test_align_tokens_identical_and_prefix():
    same = [_token(1, "a", 0.5), _token(2, "b", 0.5)]

    assert selectors.align_tokens(same, same)[1] is None
    assert selectors.align_tokens(same, same[:1])[1] == 2
    assert selectors.align_tokens([], [])[1] is None


def test_run_score_perplexity_and_mean_logprob():
    score = selectors.run_score([_token(1, "a", 0.5), _token(2, "b", 0.25)])

    assert score.tokens == 2
    assert score.mean_logprob == pytest.approx((math.log(0.5) + math.log(0.25)) / 2)
    assert score.perplexity == pytest.approx(1 / math.sqrt(0.5 * 0.25))
    assert selectors.run_score([]).perplexity is None
    # A token the model gave probability 0 (forced) keeps the score finite.
    assert math.isfinite(selectors.run_score([_token(1, "a", 0.0)]).perplexity)


def test_dashboard_recent_runs_link_to_run_pages_and_say_why_one_failed(world, smollm2):
    done = _run(world.alice_membership, smollm2)
    _run(world.alice_membership, smollm2, status=RunStatus.FAILED, tokens=[], error="Out of memory.")

    response = world.client_for(world.alice).get("/")

    assert reverse("inference:run_page", args=[done.pk]).encode() in response.content
    assert b"Out of memory." in response.content


def test_dashboard_recent_runs_do_not_read_the_runs_tokens(world, smollm2):
    # Decoding the tokens (JSON of hundreds of KB for a long run) was a third of the dashboard's CPU.
    _run(world.alice_membership, smollm2, tokens=[_token(i, f" w{i}", 0.5) for i in range(64)])

    with CaptureQueriesContext(connection) as captured:
        response = world.client_for(world.alice).get("/")

    runs_sql = [q["sql"] for q in captured.captured_queries if 'FROM "inference_sandboxrun"' in q["sql"]]
    assert runs_sql, "the dashboard reads the learner's runs"
    assert not any('"inference_sandboxrun"."tokens"' in sql for sql in runs_sql)
    assert not any('"inference_sandboxrun"."prompt_tokens"' in sql for sql in runs_sql)
    assert b" w0 w1 w2" in response.content  # the output's beginning is still shown
    assert b"T 0.7" in response.content and b"seed 42" in response.content


def test_run_tree_scores_each_path_per_token(world, smollm2):
    root = _run(world.alice_membership, smollm2, tokens=[_token(1, "a", 0.5), _token(2, "b", 0.5)])
    _run(world.alice_membership, smollm2, tokens=[_token(1, "a", 0.5)] * 40, parent=root, branch_step=1)

    tree = selectors.run_tree(root=root)

    # A 40-token path with the same per-token probability scores the same as a 2-token one.
    assert tree["perplexity"] == pytest.approx(2.0)
    assert tree["branches"][0]["perplexity"] == pytest.approx(2.0)
    assert tree["branches"][0]["mean_logprob"] == pytest.approx(math.log(0.5))
