"""RSVP, check-in, attendance and history pages: anonymous / learner / other learner / outsider / lead; htmx and plain."""

from __future__ import annotations

import datetime as dt
from html import unescape

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cohort.models import (
    HelpRequest,
    Membership,
    OfficeHoursSession,
    Role,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
    User,
)
from cohort.office_hours import live_services as services
from tests.cohort.office_hours.test_queries import SESSION_PAGE_QUERIES
from tests.factories import MembershipFactory, SessionFactory
from tests.helpers import HTMX, cohort_url

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("account_login")
CODE = "H4RB9T"


def _text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: entities such as &#x27; turned back into characters."""
    return unescape(response.content.decode())


@pytest.fixture
def live(world) -> OfficeHoursSession:
    """Session 1 of cohort A, live, led by the lead; cohort B has a session 5."""
    session = SessionFactory(
        cohort=world.cohort,
        number=1,
        title="Git and Qwen3",
        status=SessionStatus.LIVE,
        starts_at=timezone.now() - dt.timedelta(minutes=10),
        check_in_code=CODE,
    )
    session.leads.set([world.lead])
    outsider = Membership.objects.get(user=world.outsider)
    SessionFactory(cohort=outsider.cohort, number=5, status=SessionStatus.LIVE, check_in_code="OTHER5")
    return session


def _state() -> tuple:
    return (
        list(SessionRSVP.objects.order_by("pk").values()),
        list(SessionAttendance.objects.order_by("pk").values()),
        list(HelpRequest.objects.order_by("pk").values()),
    )


def _member_gets() -> list[str]:
    return [
        cohort_url("session_live", "cohort-a", 1),
        cohort_url("my_attendance", "cohort-a"),
    ]


def _member_htmx_gets() -> list[str]:
    return [cohort_url("session_rsvp_panel", "cohort-a", 1), cohort_url("help_queue", "cohort-a", 1)]


def _member_posts(world) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    return [
        (cohort_url("session_rsvp", "cohort-a", 1), {}),
        (cohort_url("session_check_in", "cohort-a", 1), {"code": CODE}),
        (cohort_url("help_queue_join", "cohort-a", 1), {"description": "Stuck"}),
        (cohort_url("help_queue_leave", "cohort-a", 1), {}),
    ]


def _lead_gets(world) -> list[str]:  # type: ignore[no-untyped-def]
    return [cohort_url("member_attendance", "cohort-a", world.alice_membership.pk)]


def _lead_posts(world) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    return [(cohort_url("session_attendance_mark", "cohort-a", 1), {"membership": world.bob_membership.pk})]


# --- Who may see and do what --------------------------------------------------------------


def test_anonymous_is_sent_to_login_and_changes_nothing(world, live):
    client = Client()
    before = _state()

    for url in [*_member_gets(), *_lead_gets(world)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(f"{LOGIN_URL}?next="), url
    for url, data in [*_member_posts(world), *_lead_posts(world)]:
        assert client.post(url, data).status_code == 302, url
    for url in [*_member_htmx_gets(), cohort_url("session_attendance", "cohort-a", 1)]:
        response = client.get(url, **HTMX)
        assert (response.status_code, response["HX-Refresh"]) == (204, "true"), url
    assert _state() == before


def test_outsider_gets_404_everywhere_and_changes_nothing(world, live):
    client = world.client_for(world.outsider)
    before = _state()

    for url in [*_member_gets(), *_lead_gets(world)]:
        assert client.get(url).status_code == 404, url
    for url in [*_member_htmx_gets(), cohort_url("session_attendance", "cohort-a", 1)]:
        assert client.get(url, **HTMX).status_code == 404, url
    for url, data in [*_member_posts(world), *_lead_posts(world)]:
        assert client.post(url, data, **HTMX).status_code == 404, url
    assert _state() == before


def test_learner_gets_403_on_lead_actions_and_changes_nothing(world, live):
    client = world.client_for(world.alice)
    before = _state()

    for url in _lead_gets(world):
        assert client.get(url).status_code == 403, url
    assert client.get(cohort_url("session_attendance", "cohort-a", 1), **HTMX).status_code == 403
    for url, data in _lead_posts(world):
        assert client.post(url, data, **HTMX).status_code == 403, url
    assert _state() == before


def test_another_cohorts_session_is_not_found_through_ours(world, live):
    lead, alice = world.client_for(world.lead), world.client_for(world.alice)
    before = _state()

    assert alice.post(cohort_url("session_rsvp", "cohort-a", 5), **HTMX).status_code == 404
    assert alice.post(cohort_url("session_check_in", "cohort-a", 5), {"code": "OTHER5"}, **HTMX).status_code == 404
    assert alice.post(cohort_url("session_check_in", "cohort-b", 5), {"code": "OTHER5"}, **HTMX).status_code == 404
    assert alice.get(cohort_url("session_live", "cohort-a", 5)).status_code == 404
    assert lead.get(cohort_url("session_attendance", "cohort-a", 5), **HTMX).status_code == 404
    assert (
        lead.post(
            cohort_url("session_attendance_mark", "cohort-a", 5), {"membership": world.bob_membership.pk}
        ).status_code
        == 404
    )
    assert _state() == before


def test_lead_cannot_see_or_mark_another_cohorts_member(world, live):
    lead = world.client_for(world.lead)
    outsider = Membership.objects.get(user=world.outsider)

    assert lead.get(cohort_url("member_attendance", "cohort-a", outsider.pk)).status_code == 404
    assert lead.get(cohort_url("member_attendance", "cohort-b", outsider.pk)).status_code == 404
    response = lead.post(cohort_url("session_attendance_mark", "cohort-a", 1), {"membership": outsider.pk}, **HTMX)

    assert response.status_code == 400
    assert "Pick a learner of this cohort." in response.content.decode()
    assert not SessionAttendance.objects.exists()


def test_writes_are_post_only(world, live):
    alice = world.client_for(world.alice)

    for url, _data in [*_member_posts(world)]:
        assert alice.get(url).status_code == 405, url
    assert world.client_for(world.lead).get(cohort_url("session_attendance_mark", "cohort-a", 1)).status_code == 405


def test_check_in_without_csrf_token_is_403(world, live):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)

    response = client.post(cohort_url("session_check_in", "cohort-a", 1), {"code": CODE})

    assert response.status_code == 403
    assert not SessionAttendance.objects.exists()


# --- RSVP ---------------------------------------------------------------------------------


def test_rsvp_and_cancel_through_htmx(world, live):
    client = world.client_for(world.alice)
    SessionRSVP.objects.create(session=live, membership=world.bob_membership)

    going = client.post(cohort_url("session_rsvp", "cohort-a", 1), **HTMX)
    again = client.post(cohort_url("session_rsvp", "cohort-a", 1), **HTMX)
    rsvps_after_two = SessionRSVP.objects.count()
    cancelled = client.post(cohort_url("session_rsvp", "cohort-a", 1), {"cancel": "1"}, **HTMX)

    assert going.status_code == again.status_code == cancelled.status_code == 200
    assert going.content.decode().lstrip().startswith('<section id="rsvp-panel"')
    assert "<strong>2</strong> going, you included" in going.content.decode()
    assert "already RSVP'd" in _text(again)
    assert rsvps_after_two == 2
    assert "RSVP cancelled." in cancelled.content.decode()
    assert list(SessionRSVP.objects.values_list("membership_id", flat=True)) == [world.bob_membership.pk]


def test_rsvp_plain_post_redirects_to_the_live_page_with_a_message(world, live):
    client = world.client_for(world.alice)

    response = client.post(cohort_url("session_rsvp", "cohort-a", 1), follow=True)

    assert response.redirect_chain == [(cohort_url("session_live", "cohort-a", 1) + "#rsvp-panel", 302)]
    assert "You're going" in _text(response)
    assert SessionRSVP.objects.filter(membership=world.alice_membership).exists()


def test_rsvp_on_an_ended_session_is_400_with_the_message(world, live):
    OfficeHoursSession.objects.filter(pk=live.pk).update(status=SessionStatus.ENDED)

    response = world.client_for(world.alice).post(cohort_url("session_rsvp", "cohort-a", 1), **HTMX)

    assert response.status_code == 400
    assert "takes no more RSVPs" in response.content.decode()
    assert not SessionRSVP.objects.exists()


# --- Check-in -----------------------------------------------------------------------------


def test_check_in_with_the_code(world, live):
    response = world.client_for(world.alice).post(
        cohort_url("session_check_in", "cohort-a", 1), {"code": " h4rb9t "}, **HTMX
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "You're checked in." in _text(response)
    assert "Checked in</span> at" in page
    assert 'name="code"' not in page
    assert SessionAttendance.objects.get().membership == world.alice_membership


def test_check_in_twice_says_so_and_changes_nothing(world, live):
    client = world.client_for(world.alice)
    client.post(cohort_url("session_check_in", "cohort-a", 1), {"code": CODE}, **HTMX)
    before = _state()

    response = client.post(cohort_url("session_check_in", "cohort-a", 1), {"code": CODE}, **HTMX)

    assert response.status_code == 200
    assert "already checked in" in response.content.decode()
    assert _state() == before


@pytest.mark.parametrize(
    ("code", "message"),
    [("WRONG1", "not this session&#x27;s code"), ("", "Type the code your lead shows"), ("X" * 21, "at most 20")],
    ids=["wrong", "empty", "oversized"],
)
def test_check_in_with_a_bad_code_is_400_with_a_field_error(world, live, code, message):
    response = world.client_for(world.alice).post(cohort_url("session_check_in", "cohort-a", 1), {"code": code}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 400
    assert message in html
    assert '<p class="error" role="alert">' in html
    assert 'name="code"' in html  # the form is still there to try again
    assert not SessionAttendance.objects.exists()


def test_check_in_with_a_wrong_code_plain_post_redirects_with_the_error(world, live):
    response = world.client_for(world.alice).post(
        cohort_url("session_check_in", "cohort-a", 1), {"code": "NOPE"}, follow=True
    )

    assert response.redirect_chain[-1][1] == 302
    assert "not this session&#x27;s code" in response.content.decode()
    assert not SessionAttendance.objects.exists()


@pytest.mark.parametrize("status", [SessionStatus.SCHEDULED, SessionStatus.ENDED])
def test_check_in_when_not_live_is_refused_with_a_message(world, live, status):
    OfficeHoursSession.objects.filter(pk=live.pk).update(status=status)

    response = world.client_for(world.alice).post(cohort_url("session_check_in", "cohort-a", 1), {"code": CODE}, **HTMX)

    assert response.status_code == 400
    assert ("opens when the lead starts" if status == "scheduled" else "has ended") in response.content.decode()
    assert not SessionAttendance.objects.exists()


def test_only_leads_see_the_check_in_code(world, live):
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user
    pages = {}
    for name in ("lead", "alice"):
        client = world.client_for(getattr(world, name))
        pages[name] = [
            client.get(cohort_url("session_rsvp_panel", "cohort-a", 1), **HTMX).content.decode(),
            client.get(cohort_url("session_live", "cohort-a", 1)).content.decode(),
            client.get(cohort_url("session", "cohort-a", 1)).content.decode(),
        ]
    mentor_panel = (
        world.client_for(mentor).get(cohort_url("session_rsvp_panel", "cohort-a", 1), **HTMX).content.decode()
    )

    assert CODE in pages["lead"][0] and CODE in pages["lead"][1]
    assert not any(CODE in html for html in pages["alice"])
    assert CODE not in mentor_panel
    assert 'name="code"' in pages["alice"][0]


def test_code_disappears_once_the_session_ends(world, live):
    OfficeHoursSession.objects.filter(pk=live.pk).update(status=SessionStatus.ENDED)

    html = world.client_for(world.lead).get(cohort_url("session_rsvp_panel", "cohort-a", 1), **HTMX).content.decode()

    assert CODE not in html


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
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))

    # The lead's page also carries the lead navigation, whose own queries are not this page's to count.
    assert counts[0] == counts[1]


# --- The session page and the live page ---------------------------------------------------


def test_session_page_places_the_panels_per_role(world, live):
    alice = world.client_for(world.alice).get(cohort_url("session", "cohort-a", 1)).content.decode()
    lead = world.client_for(world.lead).get(cohort_url("session", "cohort-a", 1)).content.decode()

    for html in (alice, lead):
        assert 'id="rsvp-panel"' in html  # rendered with the page
        assert f'hx-get="{cohort_url("help_queue", "cohort-a", 1)}" hx-trigger="load"' in html
        assert "css/live_session.css" in html
        assert cohort_url("session_live", "cohort-a", 1) in html  # the no-JavaScript way in
    assert cohort_url("session_attendance", "cohort-a", 1) in lead
    assert cohort_url("session_attendance", "cohort-a", 1) not in alice


def test_session_page_hides_the_queue_from_learners_once_ended(world, live):
    OfficeHoursSession.objects.filter(pk=live.pk).update(status=SessionStatus.ENDED)

    alice = world.client_for(world.alice).get(cohort_url("session", "cohort-a", 1)).content.decode()
    lead = world.client_for(world.lead).get(cohort_url("session", "cohort-a", 1)).content.decode()

    assert cohort_url("help_queue", "cohort-a", 1) not in alice
    assert cohort_url("help_queue", "cohort-a", 1) in lead  # who was helped, as history


def _crowd(cohort, count: int) -> list[Membership]:  # type: ignore[no-untyped-def]
    password = make_password(None)
    users = User.objects.bulk_create(
        User(email=f"live-crowd{i}@example.com", name=f"Crowd {i:03d}", password=password) for i in range(count)
    )
    return Membership.objects.bulk_create(Membership(user=u, cohort=cohort, role=Role.LEARNER) for u in users)


def _busy(session: OfficeHoursSession, crowd: list[Membership]) -> None:
    """RSVPs, check-ins and help requests from the whole crowd."""
    SessionRSVP.objects.bulk_create(SessionRSVP(session=session, membership=m) for m in crowd)
    SessionAttendance.objects.bulk_create(SessionAttendance(session=session, membership=m) for m in crowd[::2])
    HelpRequest.objects.bulk_create(
        HelpRequest(session=session, membership=m, description=f"Help {i}", capsule_error_log="x" * 500)
        for i, m in enumerate(crowd[:40])
    )


@pytest.mark.parametrize("crowd_size", [pytest.param(0, id="empty"), pytest.param(120, id="120-members")])
@pytest.mark.parametrize("viewer", ["alice", "lead"])
def test_session_page_query_count_stays_constant_with_the_panels(
    world, live, viewer, crowd_size, django_assert_num_queries
):
    _busy(live, _crowd(world.cohort, crowd_size))
    client = world.client_for(getattr(world, viewer))

    # The RSVP panel is one query in the page; the queue and roster are placeholders filled after load.
    # While live, one more: the session's open experiments (the "Run the lead's experiment" card).
    with django_assert_num_queries(SESSION_PAGE_QUERIES + 1):
        response = client.get(cohort_url("session", "cohort-a", 1))

    assert response.status_code == 200


def test_session_page_shows_the_rsvp_panel_without_a_second_request(world, live):
    SessionRSVP.objects.create(session=live, membership=world.bob_membership)

    page = world.client_for(world.alice).get(cohort_url("session", "cohort-a", 1)).content.decode()

    assert 'id="rsvp-panel"' in page and "Loading" not in page.split('id="rsvp-panel"')[1][:400]
    assert cohort_url("session_rsvp", "cohort-a", 1) in page
    assert "<strong>1</strong>" in page


# Session, user, membership, the office-hours session, then one query for the panel.
PANEL_QUERIES = 5


@pytest.mark.parametrize("crowd_size", [pytest.param(3, id="3-members"), pytest.param(120, id="120-members")])
@pytest.mark.parametrize(
    ("viewer", "name"),
    [("alice", "session_rsvp_panel"), ("lead", "session_rsvp_panel"), ("lead", "session_attendance")],
)
def test_panel_endpoints_query_count_is_constant(world, live, viewer, name, crowd_size, django_assert_num_queries):
    _busy(live, _crowd(world.cohort, crowd_size))
    client = world.client_for(getattr(world, viewer))

    with django_assert_num_queries(PANEL_QUERIES):
        response = client.get(cohort_url(name, "cohort-a", 1), **HTMX)

    assert response.status_code == 200


def test_live_page_renders_every_panel_without_javascript(world, live):
    services.help_request_join(session=live, membership=world.bob_membership, description="Bob's build")
    lead = world.client_for(world.lead).get(cohort_url("session_live", "cohort-a", 1)).content.decode()
    alice = world.client_for(world.alice).get(cohort_url("session_live", "cohort-a", 1)).content.decode()

    for html in (lead, alice):
        assert 'id="rsvp-panel"' in html and 'id="help-queue"' in html
    assert 'id="attendance-roster"' in lead and "Bob&#x27;s build" in lead
    assert 'id="attendance-roster"' not in alice and "Bob&#x27;s build" not in alice
    assert "1 person is waiting." in alice
    assert 'name="description"' in alice  # the join form, posting without htmx too
    assert f'action="{cohort_url("help_queue_join", "cohort-a", 1)}"' in alice


def test_rsvp_panel_without_htmx_redirects_to_the_live_page(world, live):
    response = world.client_for(world.alice).get(cohort_url("session_rsvp_panel", "cohort-a", 1))

    assert response.status_code == 302
    assert response.url == cohort_url("session_live", "cohort-a", 1) + "#rsvp-panel"
