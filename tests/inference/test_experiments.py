"""Live cohort experiments: services, the incremental counts, the API, the pages and who sees what."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter

import pytest
from django.utils import timezone

from cohort.models import OfficeHoursSession, Role, SessionStatus
from inference import experiment_selectors, experiments, services
from inference.models import Experiment, ExperimentRun, ExperimentStatus, RunStatus, SandboxRun
from tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_run_limits")]

API = "/api/sandbox/experiments"
VOCAB = {1: "Red", 2: "Blue", 3: "Green", 4: " The", 5: "<script>"}


@pytest.fixture
def live_session(world):
    return OfficeHoursSession.objects.create(
        cohort=world.cohort, number=3, title="Probability", starts_at=timezone.now() - dt.timedelta(minutes=5),
        status=SessionStatus.LIVE, recap_markdown="We sampled.",
    )  # fmt: skip


def _post(client, url, body=None):
    return client.post(url, data=json.dumps(body if body is not None else {}), content_type="application/json")


def _create(world, smollm2, **overrides):
    body = {
        "cohort": world.cohort.slug,
        "title": "Pick a colour",
        "model": smollm2.slug,
        "messages": [{"role": "user", "content": "Name one colour."}],
        "max_tokens": 4,
        "temperatures": [0, 0.7, 1.5],
        **overrides,
    }
    response = _post(world.client_for(world.lead), API, body)
    assert response.status_code == 201, response.content
    return Experiment.objects.get(pk=response.json()["id"])


def _distribution(temperature: float) -> list[dict]:
    if temperature == 0:
        return [{"id": 1, "text": "Red", "p": 1.0}]
    return [
        {"id": 1, "text": "Red", "p": 0.5},
        {"id": 2, "text": "Blue", "p": 0.3},
        {"id": 3, "text": "Green", "p": 0.15},
    ]


def _finish_like_a_worker(run: SandboxRun, rng: random.Random) -> None:
    """End a run as the worker does (services._finish), with tokens drawn from a known first-step distribution."""
    temperature = run.params["temperature"]
    top = _distribution(temperature)
    # Sampled arms: 5% of the mass is outside the top list (token 4, with its own exact p_sampled).
    first = 1 if temperature == 0 else rng.choices([1, 2, 3, 4], weights=[0.5, 0.3, 0.15, 0.05])[0]
    p = {1: 0.5, 2: 0.3, 3: 0.15, 4: 0.05}[first] if temperature else 1.0
    second = 2 if temperature == 0 else rng.choice([1, 2, 3])
    tokens = [
        {"id": first, "text": VOCAB[first], "p_model": p, "p_sampled": p, "top_model": top, "top_sampled": top,
         "entropy_bits": 0.0 if temperature == 0 else 1.6},
        {"id": second, "text": VOCAB[second], "p_model": 0.5, "p_sampled": 0.5, "top_model": [], "top_sampled": [],
         "entropy_bits": 0.0 if temperature == 0 else 1.0},
    ]  # fmt: skip
    services._finish(run.pk, status=RunStatus.DONE, tokens=tokens, output_text="".join(t["text"] for t in tokens),
                     finish_reason="length")  # fmt: skip


def _learners(world, n):
    return [MembershipFactory(cohort=world.cohort, user=UserFactory(email=f"l{i}@example.com")) for i in range(n)]


# --- Services and counts ----------------------------------------------------------------------


def test_round_robin_arms_own_seeds_and_the_normal_run_path(world, smollm2):
    experiment = _create(world, smollm2)
    memberships = _learners(world, 6)
    started = [experiments.experiment_run(experiment=experiment, membership=m) for m in memberships]

    assert [entry.arm for _run, entry in started] == [0, 1, 2, 0, 1, 2]
    runs = [run for run, _entry in started]
    assert [run.params["temperature"] for run in runs] == [0.0, 0.7, 1.5, 0.0, 0.7, 1.5]
    assert len({run.seed for run in runs}) == 6  # each learner's own, recorded
    for run, membership in zip(runs, memberships, strict=True):
        assert run.membership == membership and run.status == RunStatus.QUEUED
        assert run.params["seed"] == run.seed and run.request == experiment.request
        assert run.params["max_tokens"] == 4
    # The runs are in each learner's history like any other.
    assert SandboxRun.objects.filter(membership=memberships[0]).count() == 1


def test_runs_count_against_the_learners_limits(world, smollm2, settings):
    settings.SANDBOX_CONCURRENT_RUNS = 1
    experiment = _create(world, smollm2, runs_per_learner=3)
    experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    with pytest.raises(services.RateLimited):
        experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    assert ExperimentRun.objects.count() == 1


def test_aggregates_equal_counts_from_the_stored_runs(world, smollm2):
    experiment = _create(world, smollm2)
    rng = random.Random(7)
    for membership in _learners(world, 30):
        run, _entry = experiments.experiment_run(experiment=experiment, membership=membership)
        _finish_like_a_worker(run, rng)
    results = experiment_selectors.experiment_results(experiment=experiment, for_lead=False)

    for index, temperature in enumerate(experiment.temperatures):
        arm = results["arms"][index]
        runs = list(SandboxRun.objects.filter(params__temperature=temperature, status=RunStatus.DONE))
        first_counts = Counter(r.tokens[0]["id"] for r in runs)
        assert arm["runs_done"] == len(runs) == 10 and arm["runs_pending"] == 0
        assert {t["id"]: t["count"] for t in arm["first_token"] if t["count"]} == dict(first_counts)
        assert {o["text"]: o["count"] for o in arm["outputs"]} == dict(Counter(r.output_text for r in runs))
        # p_predicted is exactly the first step's stored distribution (and a token outside it keeps its own p).
        stored = {c["id"]: c["p"] for c in runs[0].tokens[0]["top_sampled"]}
        stored |= {r.tokens[0]["id"]: r.tokens[0]["p_sampled"] for r in runs}
        assert {t["id"]: t["p_predicted"] for t in arm["first_token"]} == stored
        entropies = [sum(t["entropy_bits"] for t in r.tokens) / len(r.tokens) for r in runs]
        assert arm["mean_entropy_bits"] == pytest.approx(sum(entropies) / len(entropies))

    greedy = results["arms"][0]
    assert greedy["distinct_outputs"] == 1 and greedy["outputs"] == [{"text": "RedBlue", "count": 10}]
    assert greedy["fit_p_value"] is None and "Greedy" in greedy["fit_words"]
    sampled = results["arms"][1]
    assert sampled["fit_p_value"] is not None and "10 samples" in sampled["fit_words"]
    assert "runs" not in results  # learners never see who produced what


def test_an_end_recorded_twice_counts_once(world, smollm2):
    experiment = _create(world, smollm2, temperatures=[0.7])
    run, _entry = experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    _finish_like_a_worker(run, random.Random(1))
    first = ExperimentRun.objects.get(run=run)
    # The task delivered again, or the sweep after the worker: same or other facts, still one count.
    services._finish(run.pk, status=RunStatus.FAILED, error="again", finish_reason="error")
    assert experiments.record_run_end(run_id=run.pk, status=RunStatus.DONE, tokens=[], output_text="x") == 0
    again = ExperimentRun.objects.get(run=run)
    assert (again.status, again.output_hash, again.ended_at) == (RunStatus.DONE, first.output_hash, first.ended_at)
    arm = experiment_selectors.experiment_results(experiment=experiment, for_lead=False)["arms"][0]
    assert arm["runs_done"] == 1 and sum(t["count"] for t in arm["first_token"]) == 1


def test_a_cancelled_queued_run_is_no_longer_pending(world, smollm2):
    experiment = _create(world, smollm2, temperatures=[0.7])
    run, _entry = experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    services.run_cancel(run=run)
    arm = experiment_selectors.experiment_results(experiment=experiment, for_lead=False)["arms"][0]
    assert (arm["runs_done"], arm["runs_pending"], arm["runs_failed"]) == (0, 0, 1)


def test_results_for_200_runs_in_fixed_queries(world, smollm2, django_assert_num_queries):
    experiment = _create(world, smollm2)
    memberships = _learners(world, 20)
    rng = random.Random(3)
    for i in range(200):
        membership = memberships[i % 20]
        run = SandboxRun.objects.create(membership=membership, model=smollm2, request=experiment.request,
                                        params={"temperature": experiment.temperatures[i % 3]}, seed=i)  # fmt: skip
        ExperimentRun.objects.create(experiment=experiment, run=run, membership=membership, arm=i % 3)
        _finish_like_a_worker(run, rng)
    experiment = Experiment.objects.select_related("model").get(pk=experiment.pk)  # as the views read it
    # cold: the cache key's aggregate, the rows, then the lead's rows with names (lead_runs)
    with django_assert_num_queries(3):
        results = experiment_selectors.experiment_results(experiment=experiment, for_lead=True)
    assert results["total_runs"] == 200 and len(results["runs"]) == 200
    # warm: the key's aggregate only; the lead's rows come from their table stamps' cache
    with django_assert_num_queries(1):
        warm = experiment_selectors.experiment_results(experiment=experiment, for_lead=True)
    assert warm == results
    with django_assert_num_queries(1):
        learner = experiment_selectors.experiment_results(experiment=experiment, for_lead=False)
    assert learner == {key: value for key, value in results.items() if key != "runs"}
    client = world.client_for(world.alice)
    # The API: the membership (auth), the experiment, the viewer's membership, the key (arms cached).
    with django_assert_num_queries(6):
        assert client.get(f"{API}/{experiment.pk}").status_code == 200


def test_cached_results_are_never_stale(world, smollm2):
    """Each write that changes the results (a run created, a run ended, a run deleted) shows on the next read."""
    experiment = _create(world, smollm2, temperatures=[0.7])
    rng = random.Random(5)
    read = lambda lead=False: experiment_selectors.experiment_results(experiment=experiment, for_lead=lead)  # noqa: E731
    assert read()["total_runs"] == 0

    run, _entry = experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    arm = read()["arms"][0]
    assert (read()["total_runs"], arm["runs_pending"], arm["runs_done"]) == (1, 1, 0)

    _finish_like_a_worker(run, rng)
    arm = read()["arms"][0]
    assert (arm["runs_pending"], arm["runs_done"]) == (0, 1)
    assert sum(t["count"] for t in arm["first_token"]) == 1

    # A deletion, then a creation: the count comes back, the highest pk does not.
    second, _ = experiments.experiment_run(experiment=experiment, membership=world.bob_membership)
    assert read()["total_runs"] == 2
    ExperimentRun.objects.filter(run=run).delete()
    assert read()["total_runs"] == 1 and read()["arms"][0]["runs_done"] == 0
    _finish_like_a_worker(second, rng)
    assert read()["arms"][0]["runs_done"] == 1

    # Closing shows at once (the status is never cached); names are only in the lead's answer.
    experiments.experiment_close(experiment=experiment)
    experiment.refresh_from_db()
    assert read()["status"] == ExperimentStatus.CLOSED
    assert "runs" not in read() and read(lead=True)["runs"][0]["learner"]
    assert "runs" not in read()


# --- API ----------------------------------------------------------------------------------------


def test_create_answers_201_with_the_arms(world, smollm2, live_session):
    response = _post(world.client_for(world.lead), API, {
        "cohort": "cohort-a", "session": 3, "title": "T", "model": "smollm2-135m", "prompt": "The sky is",
        "temperature": 0.9, "max_tokens": 3,
    })  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json() == {"id": response.json()["id"], "status": "open", "arms": [0.9]}
    experiment = Experiment.objects.get()
    assert experiment.session == live_session and experiment.request == {"prompt": "The sky is", "parse_special": False}
    assert "seed" not in experiment.params and "temperature" not in experiment.params


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"temperature": 0.5}, "temperatures"),  # both
        ({"title": ""}, "title"),
        ({"temperatures": [0.5, 3]}, "temperatures"),
        ({"temperatures": []}, "temperatures"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"model": "no-such-model"}, "model"),
        ({"session": 99}, "session"),
        ({"runs_per_learner": 11}, "runs_per_learner"),
        ({"seed": 3}, "seed"),
        ({"prompt": "x"}, "messages"),  # messages and prompt
    ],
)
def test_bad_input_is_400_with_field_errors(world, smollm2, change, field):
    body = {"cohort": "cohort-a", "title": "T", "model": "smollm2-135m",
            "messages": [{"role": "user", "content": "Hi"}], "temperatures": [0, 1], **change}  # fmt: skip
    response = _post(world.client_for(world.lead), API, body)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()


def test_a_session_that_is_not_live_is_refused(world, smollm2, live_session):
    live_session.status = SessionStatus.ENDED
    live_session.save()
    response = _post(world.client_for(world.lead), API, {
        "cohort": "cohort-a", "session": 3, "title": "T", "model": "smollm2-135m", "prompt": "x"})  # fmt: skip
    assert response.status_code == 400 and "live" in response.json()["fields"]["session"][0]


def test_only_leads_start_and_close(world, smollm2):
    body = {"cohort": "cohort-a", "title": "T", "model": "smollm2-135m", "prompt": "x"}
    assert _post(world.client_for(world.alice), API, body).status_code == 403
    assert _post(world.client_for(world.outsider), API, body).status_code == 404
    assert _post(world.client_for(world.lead), API, {**body, "cohort": "cohort-b"}).status_code == 404
    experiment = _create(world, smollm2)
    assert _post(world.client_for(world.alice), f"{API}/{experiment.pk}/close").status_code == 403
    assert _post(world.client_for(world.outsider), f"{API}/{experiment.pk}/close").status_code == 404
    closed = _post(world.client_for(world.lead), f"{API}/{experiment.pk}/close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


def test_learner_runs_once_then_409_and_closed_refuses(world, smollm2):
    experiment = _create(world, smollm2)
    alice, bob = world.client_for(world.alice), world.client_for(world.bob)

    first = _post(alice, f"{API}/{experiment.pk}/runs")
    assert first.status_code == 201, first.content
    run = SandboxRun.objects.get(pk=first.json()["run"])
    assert first.json() == {"run": run.pk, "temperature": 0.0, "seed": run.seed}
    again = _post(alice, f"{API}/{experiment.pk}/runs")
    assert again.status_code == 409 and "already run" in again.json()["error"]
    assert _post(alice, f"{API}/{experiment.pk}/runs", {"arm": 1}).status_code == 400  # nothing to choose

    _post(world.client_for(world.lead), f"{API}/{experiment.pk}/close")
    refused = _post(bob, f"{API}/{experiment.pk}/runs")
    assert refused.status_code == 409 and "closed" in refused.json()["error"]
    assert ExperimentRun.objects.count() == 1


def test_the_lead_can_allow_more_runs(world, smollm2):
    experiment = _create(world, smollm2, runs_per_learner=2)
    alice = world.client_for(world.alice)
    assert [_post(alice, f"{API}/{experiment.pk}/runs").status_code for _ in range(3)] == [201, 201, 409]


def test_other_cohorts_see_nothing(world, smollm2):
    experiment = _create(world, smollm2)
    outsider = world.client_for(world.outsider)
    assert outsider.get(f"{API}/{experiment.pk}").status_code == 404
    assert _post(outsider, f"{API}/{experiment.pk}/runs").status_code == 404
    assert outsider.get(f"/sandbox/experiments/{experiment.pk}/").status_code == 404
    assert world.client_for(None).get(f"{API}/{experiment.pk}").status_code == 401


def test_learners_see_the_aggregate_and_leads_each_run(world, smollm2):
    experiment = _create(world, smollm2, temperatures=[0.7])
    run, _entry = experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    _finish_like_a_worker(run, random.Random(2))
    as_bob = world.client_for(world.bob).get(f"{API}/{experiment.pk}").json()
    assert as_bob["arms"][0]["runs_done"] == 1 and as_bob.get("runs") is None
    assert "Alice" not in json.dumps(as_bob)
    as_lead = world.client_for(world.lead).get(f"{API}/{experiment.pk}").json()
    assert as_lead["runs"][0]["learner"] == "Alice" and as_lead["runs"][0]["run"] == run.pk
    # The lead can open the run itself; another learner cannot.
    assert world.client_for(world.lead).get(f"/sandbox/runs/{run.pk}/").status_code == 200
    assert world.client_for(world.bob).get(f"/sandbox/runs/{run.pk}/").status_code == 404


# --- Pages ----------------------------------------------------------------------------------------


def test_the_lead_starts_one_from_the_form(world, smollm2, live_session):
    lead = world.client_for(world.lead)
    url = "/sandbox/experiments/new/?cohort=cohort-a&session=3"
    assert lead.get(url).status_code == 200
    assert world.client_for(world.alice).get(url).status_code == 403
    bad = lead.post(url, {"title": "", "model": "smollm2-135m", "mode": "chat", "prompt": "Hi", "max_tokens": 4,
                          "temperatures": "0, 9", "top_k": 0, "top_p": 1, "min_p": 0, "runs_per_learner": 1})  # fmt: skip
    assert bad.status_code == 400
    assert "between 0 and 2" in bad.content.decode() and "This field is required" in bad.content.decode()
    response = lead.post(url, {"title": "Colours", "model": "smollm2-135m", "mode": "chat", "prompt": "Name a colour",
                               "max_tokens": 4, "temperatures": "0, 0.7", "top_k": 0, "top_p": 1, "min_p": 0,
                               "runs_per_learner": 1})  # fmt: skip
    experiment = Experiment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/sandbox/experiments/{experiment.pk}/"
    assert experiment.session == live_session and experiment.temperatures == [0.0, 0.7]
    assert experiment.request["messages"] == [{"role": "user", "content": "Name a colour"}]


def test_cards_on_the_live_session_page_and_the_dashboard(world, smollm2, live_session):
    alice, lead = world.client_for(world.alice), world.client_for(world.lead)
    page = lead.get("/c/cohort-a/sessions/3/").content.decode()
    assert "Start an experiment" in page
    assert "Run the lead's experiment" not in alice.get("/c/cohort-a/sessions/3/").content.decode()
    experiment = _create(world, smollm2, session=3)
    for url in ("/c/cohort-a/sessions/3/", "/c/cohort-a/"):
        html = alice.get(url).content.decode()
        assert "Run the lead's experiment" in html and f"/sandbox/experiments/{experiment.pk}/run/" in html

    response = alice.post(f"/sandbox/experiments/{experiment.pk}/run/")
    assert response.status_code == 302
    assert ExperimentRun.objects.filter(membership=world.alice_membership).count() == 1
    detail = alice.get(f"/sandbox/experiments/{experiment.pk}/").content.decode()
    assert "You have run it" in detail and "started at temperature 0" in detail
    assert "Individual runs" not in detail
    assert "You have run it" in alice.get("/c/cohort-a/").content.decode()


def test_pages_with_debug_off(world, smollm2, live_session, settings):
    settings.DEBUG = False
    experiment = _create(world, smollm2, session=3)
    run, _entry = experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    _finish_like_a_worker(run, random.Random(4))
    lead = world.client_for(world.lead)
    assert "Individual runs" in lead.get(f"/sandbox/experiments/{experiment.pk}/").content.decode()
    assert world.client_for(world.alice).post(f"/sandbox/experiments/{experiment.pk}/close/").status_code == 403
    assert lead.post(f"/sandbox/experiments/{experiment.pk}/close/").status_code == 302
    closed = world.client_for(world.bob)
    assert closed.post(f"/sandbox/experiments/{experiment.pk}/run/").status_code == 302
    assert "is closed" in closed.get(f"/sandbox/experiments/{experiment.pk}/").content.decode()
    assert lead.get("/sandbox/experiments/new/?cohort=cohort-a&session=abc").status_code == 404
    assert lead.get("/sandbox/experiments/new/?cohort=nope").status_code == 404
    assert lead.get("/sandbox/experiments/new/").status_code == 200


def test_the_chart_goes_to_the_recap_escaped(world, smollm2, live_session):
    experiment = _create(world, smollm2, session=3, temperatures=[0.7], title="<b>Colours</b>")
    run, _entry = experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    top = [{"id": 5, "text": "<script>", "p": 1.0}]
    tokens = [{"id": 5, "text": "<script>", "p_sampled": 1.0, "top_sampled": top, "entropy_bits": 0.0}]
    services._finish(run.pk, status=RunStatus.DONE, tokens=tokens, output_text="<script>alert(1)</script>")
    lead = world.client_for(world.lead)
    assert world.client_for(world.alice).post(f"/sandbox/experiments/{experiment.pk}/recap/").status_code == 403

    response = lead.post(f"/sandbox/experiments/{experiment.pk}/recap/")
    assert response.status_code == 302 and response["Location"] == "/c/cohort-a/sessions/3/recap/"
    experiment.refresh_from_db()
    svg = experiment.recap_svg
    assert svg.startswith("<svg") and "<script" not in svg and "&lt;script&gt;" in svg
    assert "&lt;b&gt;Colours&lt;/b&gt;" in svg and "style=" not in svg and "href" not in svg
    assert experiment.recap_numbers["arms"][0]["runs_done"] == 1 and "runs" not in experiment.recap_numbers
    recap = lead.get("/c/cohort-a/sessions/3/recap/").content.decode()
    assert svg in recap and "Live experiment: &lt;b&gt;Colours&lt;/b&gt;" in recap
    assert "<script>alert" not in recap


def test_a_recap_needs_a_session(world, smollm2):
    experiment = _create(world, smollm2)
    lead = world.client_for(world.lead)
    response = lead.post(f"/sandbox/experiments/{experiment.pk}/recap/", follow=True)
    assert "not started in a session" in response.content.decode()
    assert world.client_for(world.lead).get("/sandbox/").status_code == 200


def test_mentor_is_not_a_lead_here(world, smollm2):
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user
    experiment = _create(world, smollm2)
    client = world.client_for(mentor)
    assert client.get(f"{API}/{experiment.pk}").json().get("runs") is None
    assert _post(client, f"{API}/{experiment.pk}/close").status_code == 403


def test_admin_lists_experiments_and_their_runs(world, smollm2):
    experiment = _create(world, smollm2, temperatures=[0.7])
    run, _entry = experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    _finish_like_a_worker(run, random.Random(5))
    admin = world.client_for(UserFactory(is_staff=True, is_superuser=True))
    assert "Pick a colour" in admin.get("/admin/inference/experiment/").content.decode()
    page = admin.get(f"/admin/inference/experiment/{experiment.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200 and "Experiment runs" in html
    assert ExperimentRun.objects.get(run=run).first_token_text in html


def test_the_arms_panels_follow_the_numbers(world, smollm2):
    """The arms' HTML is cached under a digest of the numbers: every change shows, an unchanged view renders none."""
    from django.core.cache import cache
    from django.template import engines

    experiment = _create(world, smollm2, temperatures=[0.7])
    alice = world.client_for(world.alice)
    url = f"/sandbox/experiments/{experiment.pk}/"

    def arm_panel() -> str:
        html = alice.get(url).content.decode()
        return html[html.index('<article class="panel experiment-arm"') : html.index("</article>")]

    assert "<strong>0</strong> runs done · 0 pending" in arm_panel()
    run, _entry = experiments.experiment_run(experiment=experiment, membership=world.bob_membership)
    assert "<strong>0</strong> runs done · 1 pending" in arm_panel()
    _finish_like_a_worker(run, random.Random(6))
    cached = arm_panel()
    assert "<strong>1</strong> run done · 0 pending" in cached and "1 sample" in cached
    # What the cache serves is what the template renders now.
    results = experiment_selectors.experiment_results(experiment=experiment, for_lead=False)
    cache.clear()
    fresh = engines["django"].from_string("{% load experiments %}{% experiment_arms arms %}")
    html = fresh.render({"arms": results["arms"]})
    assert cached in html and arm_panel() == cached
