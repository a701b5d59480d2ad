"""The open-experiment cards (dashboard, live session page) are cached: what they read, their keys, their staleness."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.template import Context
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cohort.models import Membership, OfficeHoursSession, SessionStatus
from cohort.office_hours import services as office_hours
from config.table_versions import table_name
from inference import experiments
from inference.models import Experiment
from inference.templatetags import experiments as experiment_tags
from tests.helpers import tables_read

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_run_limits")]

RUN_BUTTON = "Run the lead's experiment"


@pytest.fixture
def live_session(world):
    session = OfficeHoursSession.objects.create(
        cohort=world.cohort,
        number=3,
        title="Probability",
        starts_at=timezone.now() - dt.timedelta(minutes=5),
        status=SessionStatus.LIVE,
    )
    session.leads.set([world.lead])
    return session


def _start(world, smollm2, **overrides) -> Experiment:  # type: ignore[no-untyped-def]
    body = {
        "cohort": world.cohort.slug,
        "title": "Pick a colour",
        "model": smollm2.slug,
        "messages": [{"role": "user", "content": "Name one colour."}],
        "max_tokens": 4,
        "temperatures": [0, 0.7],
        **overrides,
    }
    response = world.client_for(world.lead).post(
        "/api/sandbox/experiments", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return Experiment.objects.get(pk=response.json()["id"])


def _card(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/c/cohort-a/").content.decode()
    return page.split('id="experiments"')[1].split("</section>")[0] if 'id="experiments"' in page else ""


def _cards(membership: Membership, session: OfficeHoursSession | None = None) -> str:
    context = Context({"request": RequestFactory().get("/")})
    return experiment_tags.experiment_cards(context, membership, session)


def test_cards_read_only_the_tables_they_declare(world, smollm2, live_session):
    experiment = _start(world, smollm2, session=3)
    experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    alice = Membership.objects.select_related("cohort").get(pk=world.alice_membership.pk)

    with CaptureQueriesContext(connection) as captured:
        html = _cards(alice, live_session)

    assert "You have run it" in html
    assert captured.captured_queries
    assert tables_read(captured) <= {table_name(t) for t in experiment_tags.CARDS_TABLES}


def test_cards_follow_an_experiment_started_run_and_closed(world, smollm2):
    alice, bob = world.client_for(world.alice), world.client_for(world.bob)
    assert _card(alice) == ""

    experiment = _start(world, smollm2)
    assert RUN_BUTTON in _card(alice) and RUN_BUTTON in _card(bob)

    assert alice.post(f"/sandbox/experiments/{experiment.pk}/run/").status_code == 302
    assert "You have run it" in _card(alice)
    assert RUN_BUTTON in _card(bob)  # bob's runs left are his own

    assert world.client_for(world.lead).post(f"/sandbox/experiments/{experiment.pk}/close/").status_code == 302
    assert _card(alice) == "" and _card(bob) == ""  # a bulk update()

    experiment.refresh_from_db()
    experiments.experiment_reopen(experiment=experiment, membership=Membership.objects.get(user=world.lead))
    assert "You have run it" in _card(alice) and RUN_BUTTON in _card(bob)


def test_the_warm_card_posts_with_the_viewers_own_token(world, smollm2):
    experiment = _start(world, smollm2)
    alice = Client(enforce_csrf_checks=True)
    alice.force_login(world.alice)
    _card(alice)  # cold
    card = _card(alice)  # warm
    token = card.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]

    response = alice.post(f"/sandbox/experiments/{experiment.pk}/run/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_the_lead_button_follows_the_sessions_state(world, smollm2, live_session):
    lead = Membership.objects.select_related("cohort").get(user=world.lead)
    assert "Start an experiment" in _cards(lead, live_session)
    learner = Membership.objects.select_related("cohort").get(pk=world.alice_membership.pk)
    assert "Start an experiment" not in _cards(learner, live_session)  # the key holds the role

    office_hours.session_set_status(session=live_session, status=SessionStatus.ENDED)
    live_session.refresh_from_db()
    assert "Start an experiment" not in _cards(lead, live_session)
