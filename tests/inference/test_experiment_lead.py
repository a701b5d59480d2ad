"""The lead's side of a live experiment: the per-run table (cached by table stamps, never stale) and reopening."""

from __future__ import annotations

import json
import random
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cohort.models import User
from inference import experiment_selectors, experiments
from inference.models import Experiment, ExperimentRun
from inference.templatetags.experiments import experiment_run_rows
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import tables_read
from tests.inference.test_experiments import API, _create, _finish_like_a_worker

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_run_limits")]

DECLARED = {model._meta.db_table for model in experiment_selectors.LEAD_RUNS_TABLES}


def _page(client, experiment: Experiment) -> str:
    response = client.get(f"/sandbox/experiments/{experiment.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def _rows(html: str) -> str:
    found = re.search(r'<tbody id="experiment-run-rows">(.*?)</tbody>', html, re.DOTALL)
    assert found, "the lead's table is on the page"
    return found.group(1)


def _queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.content.decode()


def _with_runs(world, smollm2, n: int) -> Experiment:
    experiment = _create(world, smollm2)
    rng = random.Random(11)
    for i in range(n):
        membership = MembershipFactory(cohort=world.cohort, user=UserFactory(email=f"r{i}@example.com", name=f"R{i}"))
        run, _entry = experiments.experiment_run(experiment=experiment, membership=membership)
        _finish_like_a_worker(run, rng)
    return Experiment.objects.select_related("model").get(pk=experiment.pk)


# --- The per-run table, cached ------------------------------------------------------------------


def test_the_cached_rows_read_only_the_tables_they_declare(world, smollm2):
    experiment = _with_runs(world, smollm2, 4)
    cache.clear()  # everything cold: the value under the fragment too
    with CaptureQueriesContext(connection) as captured:
        html = experiment_run_rows(experiment)
    assert html.count("<tr data-run=") == 4 and "R3" in html
    read = tables_read(captured)
    assert read, "a cold render reads the rows"
    assert read <= DECLARED, f"read but not declared: {read - DECLARED}"
    again = Experiment.objects.get(pk=experiment.pk)  # as the next request reads it
    with CaptureQueriesContext(connection) as captured:
        runs = experiment_selectors.lead_runs(experiment=again)
    assert len(captured) == 0 and len(runs) == 4  # the same rows, kept
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        experiment_selectors.lead_runs(experiment=experiment)
    assert tables_read(captured) and tables_read(captured) <= DECLARED


def test_the_table_shows_every_change_on_the_next_view(world, smollm2):
    experiment = _create(world, smollm2, temperatures=[0.7])
    lead = world.client_for(world.lead)
    page = _page(lead, experiment)
    assert 'id="experiment-runs-empty">No one has run it yet' in page
    assert 'id="experiment-runs-table" hidden' in page and _rows(page) == ""

    run, _entry = experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    page = _page(lead, experiment)
    assert f'<a href="/sandbox/runs/{run.pk}/">#{run.pk}</a></td><td>Alice</td><td>0.7</td><td>queued</td>' in page
    assert _rows(_page(lead, experiment)) == _rows(page)  # warm: the same table

    _finish_like_a_worker(run, random.Random(1))  # the run ends: one UPDATE of its row
    entry = ExperimentRun.objects.get(run=run)
    page = _page(lead, experiment)
    assert f"<td>Alice</td><td>0.7</td><td>done</td><td><code>{entry.first_token_text}</code></td>" in page
    assert f"<td>{entry.output_text}</td></tr>" in page

    User.objects.filter(pk=world.alice.pk).update(name="Alicia")  # a bulk update: no save signal
    page = _page(lead, experiment)
    assert "<td>Alicia</td>" in page and "<td>Alice</td>" not in page
    assert world.client_for(world.lead).get(f"{API}/{experiment.pk}").json()["runs"][0]["learner"] == "Alicia"

    second, _entry = experiments.experiment_run(experiment=experiment, membership=world.bob_membership)
    page = _page(lead, experiment)
    assert f"#{second.pk}</a></td><td>Bob</td>" in page and 'id="experiment-runs-empty" hidden' in page


def test_a_warm_view_reads_no_rows_and_renders_the_same(world, smollm2):
    experiment = _with_runs(world, smollm2, 12)
    url = f"/sandbox/experiments/{experiment.pk}/"
    lead = world.client_for(world.lead)
    cache.clear()
    cold, cold_html = _queries(lead, url)
    warm, warm_html = _queries(lead, url)
    # Cold: the arms' rows and the lead's rows with names; warm: neither (the arms' key still counts).
    assert cold - warm == 2, (cold, warm)
    assert _rows(warm_html) == _rows(cold_html) and _rows(warm_html).count("/sandbox/runs/") == 12
    # The lead's poll: its rows come from the same stamps, so no names are read when nothing changed.
    poll = f"{API}/{experiment.pk}"
    cache.clear()
    cold_poll, _ = _queries(lead, poll)
    warm_poll, body = _queries(lead, poll)
    assert cold_poll - warm_poll == 2 and json.loads(body)["runs"][0]["learner"] == "R0"
    # Learners never get names, whatever a lead's poll cached.
    assert "R0" not in world.client_for(world.alice).get(poll).content.decode()


# --- Reopening ----------------------------------------------------------------------------------


@pytest.fixture
def session(world):
    from datetime import timedelta

    from django.utils import timezone

    from cohort.models import OfficeHoursSession, SessionStatus

    return OfficeHoursSession.objects.create(
        cohort=world.cohort, number=3, title="Probability", starts_at=timezone.now() - timedelta(minutes=5),
        status=SessionStatus.LIVE,
    )  # fmt: skip


def _lead_membership(world):
    return world.lead.memberships.get(cohort=world.cohort)


def test_a_lead_reopens_and_learners_run_again(world, smollm2):
    experiment = _create(world, smollm2, temperatures=[0.7], runs_per_learner=2)
    experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    experiments.experiment_close(experiment=experiment)
    with pytest.raises(experiments.ExperimentRefused):
        experiments.experiment_run(experiment=experiment, membership=world.bob_membership)

    reopened = experiments.experiment_reopen(experiment=experiment, membership=_lead_membership(world))
    assert reopened.is_open and reopened.closed_at is None
    experiments.experiment_run(experiment=experiment, membership=world.bob_membership)
    # The run from before the close still counts, towards the results and towards Alice's limit.
    experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    with pytest.raises(experiments.ExperimentRefused, match="already run"):
        experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    assert experiment_selectors.experiment_results(experiment=experiment, for_lead=False)["total_runs"] == 3
    # Reopening an open experiment changes nothing.
    assert experiments.experiment_reopen(experiment=experiment, membership=_lead_membership(world)).is_open


def test_only_a_lead_of_the_cohort_reopens(world, smollm2):
    experiment = _create(world, smollm2)
    experiments.experiment_close(experiment=experiment)
    with pytest.raises(experiments.ExperimentRefused) as learner:
        experiments.experiment_reopen(experiment=experiment, membership=world.alice_membership)
    other_lead = MembershipFactory(role="lead")  # a lead, of another cohort
    with pytest.raises(experiments.ExperimentRefused) as outsider:
        experiments.experiment_reopen(experiment=experiment, membership=other_lead)
    assert (learner.value.status, outsider.value.status) == (403, 404)
    experiment.refresh_from_db()
    assert not experiment.is_open


def test_an_experiment_of_an_ended_session_stays_closed(world, smollm2, session):
    from cohort.models import SessionStatus

    experiment = _create(world, smollm2, session=3)
    experiments.experiment_close(experiment=experiment)
    session.status = SessionStatus.ENDED
    session.save()
    experiment = Experiment.objects.select_related("session").get(pk=experiment.pk)
    with pytest.raises(experiments.ExperimentRefused, match="Session 3 has ended") as refused:
        experiments.experiment_reopen(experiment=experiment, membership=_lead_membership(world))
    assert refused.value.status == 409
    lead = world.client_for(world.lead)
    page = _page(lead, experiment)
    assert "Reopen the experiment" not in page and "Session 3 has ended" in page
    api = lead.post(f"{API}/{experiment.pk}/reopen", data="{}", content_type="application/json")
    assert api.status_code == 409 and "has ended" in api.json()["error"]
    assert lead.post(f"/sandbox/experiments/{experiment.pk}/reopen/", follow=True).status_code == 200
    experiment.refresh_from_db()
    assert not experiment.is_open


def test_the_reopen_button_and_view(world, smollm2, session):
    experiment = _create(world, smollm2, session=3)
    lead, alice = world.client_for(world.lead), world.client_for(world.alice)
    url = f"/sandbox/experiments/{experiment.pk}/reopen/"
    assert "Reopen the experiment" not in _page(lead, experiment)  # open: "Close" instead
    already = lead.post(url, follow=True).content.decode()
    assert "open already" in already

    lead.post(f"/sandbox/experiments/{experiment.pk}/close/")
    assert f'action="{url}"' in _page(lead, experiment)
    assert "Reopen the experiment" not in _page(alice, experiment)
    assert alice.post(url).status_code == 403
    assert world.client_for(world.outsider).post(url).status_code == 404
    assert lead.get(url).status_code == 405

    response = lead.post(url)
    assert response.status_code == 302 and response["Location"] == f"/sandbox/experiments/{experiment.pk}/"
    page = _page(lead, experiment)
    assert "Reopened: learners can run it again" in page and "Close the experiment" in page
    assert "Run the lead's experiment" in _page(alice, experiment)


def test_the_reopen_endpoint(world, smollm2):
    experiment = _create(world, smollm2)
    url = f"{API}/{experiment.pk}/reopen"

    def post(user):
        return world.client_for(user).post(url, data="{}", content_type="application/json")

    world.client_for(world.lead).post(f"{API}/{experiment.pk}/close", data="{}", content_type="application/json")
    other_lead = MembershipFactory(role="lead").user  # leads another cohort
    assert post(other_lead).status_code == 404
    assert post(world.outsider).status_code == 404
    assert post(world.alice).status_code == 403
    assert world.client_for(None).post(url, data="{}", content_type="application/json").status_code == 401
    experiment.refresh_from_db()
    assert not experiment.is_open

    reopened = post(world.lead)
    assert reopened.status_code == 200 and reopened.json()["status"] == "open" and reopened.json()["runs"] == []
    again = post(world.lead)  # reopening an open experiment changes nothing
    assert again.status_code == 200 and again.json()["status"] == "open"
    assert "/api/sandbox/experiments/{id}/reopen" in world.client_for(None).get("/api/openapi.json").json()["paths"]
