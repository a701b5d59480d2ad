"""Attendance through the views: the lead marking it, the roster poll, a learner's and a lead's attendance history, their query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cohort.models import (
    Membership,
    OfficeHoursSession,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
)
from cohort.office_hours import live_services as services
from tests.cohort.office_hours.conftest import CODE
from tests.factories import SessionFactory
from tests.helpers import HTMX, cohort_url

pytestmark = pytest.mark.django_db


# --- Lead: attendance ---------------------------------------------------------------------


def test_lead_marks_and_unmarks_a_learner(world, live):
    client = world.client_for(world.lead)
    url = cohort_url("session_attendance_mark", "cohort-a", 1)

    marked = client.post(url, {"membership": world.bob_membership.pk}, **HTMX)
    row = SessionAttendance.objects.get()
    removed = client.post(url, {"membership": world.bob_membership.pk, "remove": "1"}, **HTMX)

    assert marked.status_code == removed.status_code == 200
    assert (row.membership, row.source, row.marked_by) == (world.bob_membership, "lead", world.lead)
    assert "marked by" in marked.content.decode()
    assert not SessionAttendance.objects.exists()


def test_lead_roster_lists_rsvps_and_attendance_and_links_histories(world, live):
    SessionRSVP.objects.create(session=live, membership=world.bob_membership)
    services.attendance_check_in(session=live, membership=world.alice_membership, code=CODE)

    response = world.client_for(world.lead).get(cohort_url("session_attendance", "cohort-a", 1), **HTMX)

    html = response.content.decode()
    roster = response.context["roster"]
    assert [r.membership for r in roster.present] == [world.alice_membership]
    assert [r.membership for r in roster.rsvps] == [world.bob_membership]
    assert "(1 present · 1 RSVP)" in html
    assert cohort_url("member_attendance", "cohort-a", world.bob_membership.pk) in html
    assert f"?v={roster.key}" in html and 'hx-trigger="every 5s"' in html


def test_lead_roster_poll_answers_204_until_someone_checks_in(world, live):
    client = world.client_for(world.lead)
    key = client.get(cohort_url("session_attendance", "cohort-a", 1), **HTMX).context["roster"].key
    url = cohort_url("session_attendance", "cohort-a", 1) + f"?v={key}"

    same = client.get(url, **HTMX)
    services.attendance_check_in(session=live, membership=world.alice_membership, code=CODE)
    changed = client.get(url, **HTMX)

    assert same.status_code == 204
    assert changed.status_code == 200
    assert "Present" in changed.content.decode()


def test_lead_cannot_mark_before_the_session_started(world, live):
    OfficeHoursSession.objects.filter(pk=live.pk).update(
        status=SessionStatus.SCHEDULED, starts_at=timezone.now() + dt.timedelta(days=1)
    )
    client = world.client_for(world.lead)

    roster = client.get(cohort_url("session_attendance", "cohort-a", 1), **HTMX).content.decode()
    response = client.post(
        cohort_url("session_attendance_mark", "cohort-a", 1), {"membership": world.bob_membership.pk}, **HTMX
    )

    assert "Mark present" not in roster
    assert response.status_code == 400
    assert "once the session has started" in response.content.decode()
    assert not SessionAttendance.objects.exists()


# --- Attendance history -------------------------------------------------------------------


@pytest.fixture
def history(world):  # type: ignore[no-untyped-def]
    """Alice joined three weeks ago: attended session 1, RSVP'd to but missed session 2 (it has a recap)."""
    Membership.objects.filter(cohort=world.cohort).update(joined_at=timezone.now() - dt.timedelta(days=21))
    now = timezone.now()
    first = SessionFactory(
        cohort=world.cohort, number=1, title="Attended one", status="ended", starts_at=now - dt.timedelta(days=14)
    )
    second = SessionFactory(
        cohort=world.cohort,
        number=2,
        title="Missed one",
        status="ended",
        starts_at=now - dt.timedelta(days=7),
        recap_markdown="Recap",
        recap_published_at=now,
    )
    SessionFactory(cohort=world.cohort, number=3, title="Coming one", starts_at=now + dt.timedelta(days=7))
    SessionAttendance.objects.create(session=first, membership=world.alice_membership)
    SessionRSVP.objects.create(session=second, membership=world.alice_membership)
    SessionAttendance.objects.create(session=second, membership=world.bob_membership)
    return first, second


def test_my_attendance_shows_attended_missed_and_upcoming(world, history):
    response = world.client_for(world.alice).get(cohort_url("my_attendance", "cohort-a"))

    html = response.content.decode()
    states = {row.session.title: row.state for row in response.context["history"].rows}
    assert response.status_code == 200
    assert states == {"Attended one": "attended", "Missed one": "missed", "Coming one": "upcoming"}
    assert "1 / 2 <span>sessions attended</span>" in html
    assert cohort_url("recap", "cohort-a", 2) in html  # catch up on what was missed
    assert "Your attendance" in html


def test_lead_sees_a_learners_history_and_a_learner_cannot(world, history):
    lead_view = world.client_for(world.lead).get(cohort_url("member_attendance", "cohort-a", world.bob_membership.pk))
    bob_tries = world.client_for(world.bob).get(cohort_url("member_attendance", "cohort-a", world.alice_membership.pk))

    states = {row.session.title: row.state for row in lead_view.context["history"].rows}
    assert lead_view.status_code == 200
    assert states["Missed one"] == "attended" and states["Attended one"] == "missed"
    assert "Bob" in lead_view.content.decode()
    assert bob_tries.status_code == 403


def _sessions_attended_every_other_week(world, count: int, first_number: int = 1) -> None:  # type: ignore[no-untyped-def]
    start = timezone.now() - dt.timedelta(weeks=100)
    for n in range(first_number, first_number + count):
        session = SessionFactory(cohort=world.cohort, number=n, status="ended", starts_at=start + dt.timedelta(weeks=n))
        SessionRSVP.objects.create(session=session, membership=world.alice_membership)
        if n % 2:
            SessionAttendance.objects.create(session=session, membership=world.alice_membership)


@pytest.mark.parametrize("sessions", [pytest.param(2, id="2-sessions"), pytest.param(30, id="30-sessions")])
def test_my_attendance_query_count_is_constant(world, sessions, django_assert_num_queries):
    _sessions_attended_every_other_week(world, sessions)
    client = world.client_for(world.alice)

    # Session, user, membership, the sessions with RSVP and attendance.
    with django_assert_num_queries(4):
        response = client.get(cohort_url("my_attendance", "cohort-a"))

    assert len(response.context["history"].rows) == sessions


def test_member_attendance_query_count_does_not_grow_with_sessions(world):
    client = world.client_for(world.lead)
    url = cohort_url("member_attendance", "cohort-a", world.alice_membership.pk)
    counts = []
    for first_number, count in ((1, 2), (3, 30)):
        _sessions_attended_every_other_week(world, count, first_number)
        cache.clear()  # both requests cold: the lead navigation's badge is a cached fragment
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))

    # The lead's page also carries the lead navigation, whose own queries are not this page's to count.
    assert counts[0] == counts[1]
