"""Every session page, for every kind of viewer, in every state of the session, with DEBUG off.

The 500 this guards against (issue 12, item 1): the RSVP panel is an inclusion
tag, whose context starts empty; it read `user.timezone` to format a check-in
time, so every learner who had checked in (or been marked present) got
`VariableDoesNotExist` on the session page. Only a page rendered for that exact
viewer state shows it, hence the full matrix. The test client re-raises a view's
exception, so a 500 fails the test with its traceback.
"""

from __future__ import annotations

import datetime as dt
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from cohort.models import (
    AttendanceSource,
    HelpRequest,
    HelpRequestStatus,
    Membership,
    OfficeHoursSession,
    Role,
    SessionAttendance,
    SessionQuestion,
    SessionRSVP,
    SessionStatus,
)
from tests.factories import MembershipFactory, SessionFactory, TopicFactory, UserFactory
from tests.helpers import HTMX

pytestmark = pytest.mark.django_db

CODE = "K7PX2Q"

VIEWERS = ["anonymous", "outsider", "learner", "rsvped", "checked_in_code", "marked_by_lead", "mentor", "lead"]
SESSION_STATES = ["scheduled", "scheduled_past", "live", "ended"]
# (name, url name, htmx?, who may see it: "member", "lead")
PAGES = [
    ("session", "session", False, "member"),
    ("questions_fragment", "session", True, "member"),
    ("more_questions", "session_questions", True, "member"),
    ("live_view", "session_live", False, "member"),
    ("live_state", "session_live_state", True, "member"),
    ("rsvp_panel", "session_rsvp_panel", True, "member"),
    ("help_queue", "help_queue", True, "member"),
    ("attendance_roster", "session_attendance", True, "lead"),
    ("recap", "recap", False, "member"),
    ("ics", "session_ics", False, "member"),
    ("sessions", "sessions", False, "member"),
    ("my_attendance", "my_attendance", False, "member"),
]
_SESSION_ARGS = {"sessions", "my_attendance"}


@pytest.fixture(autouse=True)
def _debug_off(settings):
    # Production settings: DEBUG off and the template engine's debug off (engines are rebuilt on change),
    # string_if_invalid left at its default.
    settings.DEBUG = False
    templates = [dict(t, OPTIONS=dict(t["OPTIONS"], debug=False)) for t in settings.TEMPLATES]
    settings.TEMPLATES = templates


def _session(world, state: str) -> OfficeHoursSession:
    now = timezone.now()
    starts_at = {
        "scheduled": now + dt.timedelta(days=1),
        "scheduled_past": now - dt.timedelta(days=1),
        "live": now - dt.timedelta(minutes=10),
        "ended": now - dt.timedelta(hours=2),
    }[state]
    status = {"scheduled_past": SessionStatus.SCHEDULED}.get(state, state)
    session = SessionFactory(
        cohort=world.cohort,
        number=3,
        title="Sampling, live",
        status=status,
        starts_at=starts_at,
        check_in_code=CODE,
        meeting_url="https://meet.example.com/oh-3",
        recap_markdown="We covered **top-p**.",
        recap_published_at=now,
    )
    session.leads.set([world.lead])
    topic = TopicFactory(session=session, position=1, title="Top-p")
    SessionQuestion.objects.create(session=session, author=world.bob_membership, body="Why **top-p**?")
    SessionQuestion.objects.create(
        session=session, author=world.bob_membership, body="Answered one", answered_at=now, answered_topic=topic
    )
    # Someone in the queue, so the staff view renders a request (with its times in the viewer's zone).
    HelpRequest.objects.create(
        session=session,
        membership=world.bob_membership,
        description="llama.cpp build fails",
        status=HelpRequestStatus.WAITING if status == SessionStatus.LIVE else HelpRequestStatus.LEFT,
        finished_at=None if status == SessionStatus.LIVE else now,
    )
    return session


def _viewer(world, session: OfficeHoursSession, kind: str):  # type: ignore[no-untyped-def]
    if kind == "anonymous":
        return None
    if kind == "outsider":
        return world.outsider
    if kind == "lead":
        return world.lead
    if kind == "mentor":
        return MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user
    user = UserFactory(timezone="Europe/Paris")
    membership = MembershipFactory(cohort=world.cohort, user=user, role=Role.LEARNER)
    if kind in ("rsvped", "checked_in_code", "marked_by_lead"):
        SessionRSVP.objects.create(session=session, membership=membership)
    if kind == "checked_in_code":
        SessionAttendance.objects.create(session=session, membership=membership, source=AttendanceSource.CODE)
    if kind == "marked_by_lead":
        SessionAttendance.objects.create(
            session=session, membership=membership, source=AttendanceSource.LEAD, marked_by=world.lead
        )
    return user


def _expected(kind: str, who: str, htmx: bool, url_name: str) -> int:
    if kind == "anonymous":
        # The live panels ask an expired tab to reload (204 + HX-Refresh); other pages redirect to sign in.
        live_panel = url_name not in (
            "session",
            "session_questions",
            "recap",
            "session_ics",
            "sessions",
            "my_attendance",
        )
        return 204 if htmx and live_panel else 302
    if kind == "outsider":
        return 404
    if who == "lead" and kind != "lead":
        return 403
    return 200


@pytest.mark.parametrize("state", SESSION_STATES)
@pytest.mark.parametrize("kind", VIEWERS)
def test_every_session_page_renders_for_every_viewer_in_every_state(world, state, kind):
    session = _session(world, state)
    user = _viewer(world, session, kind)
    client = world.client_for(user)
    for name, url_name, htmx, who in PAGES:
        args = ["cohort-a"] if url_name in _SESSION_ARGS else ["cohort-a", session.number]
        response = client.get(reverse(f"cohort:{url_name}", args=args), **(HTMX if htmx else {}))
        expected = _expected(kind, who, htmx, url_name)
        assert response.status_code == expected, f"{name} as {kind} ({state}): {response.status_code}"


@pytest.mark.parametrize("state", SESSION_STATES)
@pytest.mark.parametrize("kind", ["checked_in_code", "marked_by_lead"])
def test_checked_in_learner_sees_their_check_in_on_the_session_page(world, state, kind):
    session = _session(world, state)
    client = world.client_for(_viewer(world, session, kind))
    for url_name in ("session", "session_live"):
        text = unescape(client.get(reverse(f"cohort:{url_name}", args=["cohort-a", 3])).content.decode())
        if state == "live":
            assert "Checked in" in text
            assert ("(marked by a lead)" in text) == (kind == "marked_by_lead")
        else:
            assert "You attended" in text


def test_lead_sees_the_code_and_learners_do_not(world):
    session = _session(world, "live")
    learner = _viewer(world, session, "rsvped")
    assert CODE in world.client_for(world.lead).get(reverse("cohort:session", args=["cohort-a", 3])).content.decode()
    assert CODE not in world.client_for(learner).get(reverse("cohort:session", args=["cohort-a", 3])).content.decode()


def test_check_in_then_reload_is_not_a_500(world):
    """The journey of the report: check in with the code, then load the session page again."""
    session = _session(world, "live")
    user = _viewer(world, session, "rsvped")
    client = world.client_for(user)
    response = client.post(reverse("cohort:session_check_in", args=["cohort-a", 3]), {"code": CODE.lower()}, **HTMX)
    assert response.status_code == 200
    assert Membership.objects.get(user=user).session_attendance.filter(session=session).exists()
    page = client.get(reverse("cohort:session", args=["cohort-a", 3]))
    assert page.status_code == 200
    assert "Checked in" in page.content.decode()
