"""The session page's cached RSVP / check-in panel and announcements (cohort.templatetags.live_session).

What they read, what they are keyed by, and that every change shows on the
next view: the page is viewed first (so the panel is cached), then something
changes through the real service, then the page is viewed again. Clients sign
in before the first view: a sign-in writes the user's row, which moves stamps.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.template import Context
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cohort.models import Membership, OfficeHoursSession, SessionStatus
from cohort.office_hours import live_services
from cohort.office_hours import services as office_hours
from cohort.templatetags import live_session
from config.table_versions import table_name
from tests.cohort.office_hours.conftest import CODE
from tests.factories import MembershipFactory, SessionFactory, UserFactory
from tests.helpers import cohort_url, tables_read

pytestmark = pytest.mark.django_db

PAGE = cohort_url("session", "cohort-a", 1)


def _declared(tables) -> set[str]:  # type: ignore[no-untyped-def]
    return {table_name(t) for t in tables}


def _page(client) -> str:  # type: ignore[no-untyped-def]
    response = client.get(PAGE)
    assert response.status_code == 200
    return response.content.decode()


def _rsvp(html: str) -> str:
    start = html.index('id="rsvp-panel"')
    return html[start : html.index("</section>", start)]


def _announcements(html: str) -> str:
    start = html.index('id="announcements"')
    return html[start : html.index("</section>", start)]


def _tag_context(world, user, session: OfficeHoursSession) -> Context:  # type: ignore[no-untyped-def]
    membership = Membership.objects.select_related("cohort").get(user=user, cohort=world.cohort)
    request = RequestFactory().get(PAGE)
    request.user = user
    return Context(
        {"request": request, "user": user, "cohort": world.cohort, "session": session, "membership": membership}
    )


# --- What they read -------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ["alice", "lead"])
def test_rsvp_panel_reads_only_the_tables_it_declares(world, live, viewer):
    live_services.rsvp_add(session=live, membership=world.alice_membership)
    live_services.attendance_check_in(session=live, membership=world.alice_membership, code=CODE)
    context = _tag_context(world, getattr(world, viewer), live)

    with CaptureQueriesContext(connection) as captured:
        html = live_session.rsvp_panel(context)

    assert 'id="rsvp-panel"' in html
    assert captured.captured_queries, "the render ran (cold)"
    assert tables_read(captured) <= _declared(live_session.RSVP_PANEL_TABLES)


@pytest.mark.parametrize("viewer", ["alice", "lead"])
def test_announcements_read_only_the_tables_they_declare(world, live, viewer):
    live_services.announcement_post(session=live, author=world.lead, body="Now on topic 2")
    context = _tag_context(world, getattr(world, viewer), live)

    with CaptureQueriesContext(connection) as captured:
        html = live_session.live_announcements(context)

    assert "Now on topic 2" in html
    assert captured.captured_queries, "the render ran (cold)"
    assert tables_read(captured) <= _declared(live_session.ANNOUNCEMENTS_TABLES)


def test_a_second_view_reads_neither_panel_again(world, live):
    client = world.client_for(world.alice)
    _page(client)

    with CaptureQueriesContext(connection) as captured:
        _page(client)

    assert not tables_read(captured) & {"cohort_sessionrsvp", "cohort_sessionattendance", "cohort_sessionannouncement"}


# --- Staleness ------------------------------------------------------------------------------


def test_rsvp_and_its_cancellation_show_at_once(world):
    session = SessionFactory(cohort=world.cohort, number=1)
    alice, bob = world.client_for(world.alice), world.client_for(world.bob)
    assert "RSVP: I'll be there" in _rsvp(_page(alice))
    assert "<strong>0</strong> going" in _rsvp(_page(bob))

    live_services.rsvp_add(session=session, membership=world.alice_membership)
    assert "<strong>1</strong> going, you included" in _rsvp(_page(alice))
    assert "Cancel my RSVP" in _rsvp(_page(alice))
    assert "<strong>1</strong> going</p>" in _rsvp(_page(bob))  # the count, for everyone

    live_services.rsvp_cancel(session=session, membership=world.alice_membership)
    assert "RSVP: I'll be there" in _rsvp(_page(alice))
    assert "<strong>0</strong> going" in _rsvp(_page(bob))


def test_going_live_a_check_in_and_a_lead_marking_show_at_once(world):
    session = SessionFactory(
        cohort=world.cohort, number=1, starts_at=timezone.now() - dt.timedelta(minutes=5), check_in_code=CODE
    )
    alice, bob, lead = (world.client_for(u) for u in (world.alice, world.bob, world.lead))
    assert "Check-in opens when the lead starts the session" in _rsvp(_page(alice))
    assert CODE not in _rsvp(_page(lead))

    office_hours.session_set_status(session=session, status=SessionStatus.LIVE)
    assert 'class="check-in-form"' in _rsvp(_page(alice))
    assert CODE in _rsvp(_page(lead)) and CODE not in _rsvp(_page(alice))

    live_services.attendance_check_in(session=session, membership=world.alice_membership, code=CODE)
    assert "Checked in</span> at" in _rsvp(_page(alice))
    assert 'class="check-in-form"' in _rsvp(_page(bob))  # only Alice checked in

    live_services.attendance_mark(session=session, membership=world.bob_membership, by=world.lead)
    assert "(marked by a lead)" in _rsvp(_page(bob))

    live_services.attendance_unmark(session=session, membership=world.bob_membership)
    assert 'class="check-in-form"' in _rsvp(_page(bob))

    office_hours.session_set_status(session=session, status=SessionStatus.ENDED)
    assert "You attended" in _rsvp(_page(alice))
    assert "Check-in was open while the session was live." in _rsvp(_page(bob))


def test_a_scheduled_session_passing_its_end_shows_without_any_write(world, monkeypatch):
    """Nothing is written when a scheduled session's time runs out: the panel is keyed by whether it is over."""
    start = timezone.now() + dt.timedelta(minutes=10)
    SessionFactory(cohort=world.cohort, number=1, starts_at=start, duration_minutes=60)
    alice = world.client_for(world.alice)
    assert "RSVP: I'll be there" in _rsvp(_page(alice))

    later = start + dt.timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: later)

    panel = _rsvp(_page(alice))
    assert "RSVP: I'll be there" not in panel and "Check-in was open while the session was live." in panel


def test_announcements_show_and_go_at_once(world, live):
    alice = world.client_for(world.alice)
    assert "Now on topic 2" not in _announcements(_page(alice))

    posted = live_services.announcement_post(session=live, author=world.lead, body="Now on topic 2")
    assert "Now on topic 2" in _announcements(_page(alice))

    live_services.announcement_delete(session=live, announcement_id=posted.pk)
    assert "Now on topic 2" not in _announcements(_page(alice))


def test_the_lead_loses_the_announcement_form_when_the_session_ends(world, live):
    lead = world.client_for(world.lead)
    assert 'class="announcement-form"' in _announcements(_page(lead))

    office_hours.session_set_status(session=live, status=SessionStatus.ENDED)

    assert 'class="announcement-form"' not in _page(lead)


# --- Keys -----------------------------------------------------------------------------------


def test_each_viewer_gets_their_own_panels(world, live):
    live_services.announcement_post(session=live, author=world.lead, body="Now on topic 2")
    live_services.attendance_check_in(session=live, membership=world.alice_membership, code=CODE)
    tokyo = MembershipFactory(cohort=world.cohort, user=UserFactory(email="t@example.com", timezone="Asia/Tokyo"))
    checked_at = timezone.now()
    live_services.attendance_mark(session=live, membership=tokyo, by=world.lead, at=checked_at)
    alice, bob, lead, far = (world.client_for(u) for u in (world.alice, world.bob, world.lead, tokyo.user))
    alice_page = _page(alice)  # cached first, as Alice sees it

    bob_page, lead_page, far_page = _page(bob), _page(lead), _page(far)

    assert "Checked in</span> at" in _rsvp(alice_page) and "Checked in" not in _rsvp(bob_page)
    assert CODE in _rsvp(lead_page) and CODE not in _rsvp(alice_page) + _rsvp(bob_page)
    tokyo_time = checked_at.astimezone(dt.timezone(dt.timedelta(hours=9))).strftime("%H:%M")
    assert f"at {tokyo_time} (marked by a lead)" in _rsvp(far_page)
    assert "Remove" in _announcements(lead_page) and "Remove" not in _announcements(alice_page)
    assert 'class="announcement-form"' in lead_page and 'class="announcement-form"' not in bob_page
