"""Calendar endpoints: token feeds, rotation, the per-session download and the page pieces that link to them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse
from icalendar import Calendar

from cohort.models import Cohort, Membership, Role, SessionRSVP, User
from cohort.office_hours.calendar_views import FEED_REQUESTS_PER_MINUTE
from tests.factories import SessionFactory, TopicFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("account_login")
# The cohort by its token, its sessions, their topics with steps.
COHORT_FEED_QUERIES = 3
# The membership (with cohort and user) by its token, the sessions with the member's RSVPs, their topics.
MEMBER_FEED_QUERIES = 3


def _cohort_feed(cohort: Cohort) -> str:
    return reverse("cohort:calendar_cohort_feed", args=[cohort.calendar_token])


def _member_feed(membership: Membership) -> str:
    return reverse("cohort:calendar_member_feed", args=[membership.calendar_token])


def _ics(number: int, slug: str = "cohort-a") -> str:
    return reverse("cohort:session_ics", args=[slug, number])


def _summaries(response) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(str(e["SUMMARY"]) for e in Calendar.from_ical(response.content).walk("VEVENT"))


@pytest.fixture
def sessions(world):  # type: ignore[no-untyped-def]
    ours = SessionFactory(
        cohort=world.cohort, number=1, title="Ours", starts_at=dt.datetime(2030, 3, 13, 17, tzinfo=dt.UTC)
    )
    TopicFactory(session=ours, position=1, title="GitHub collaboration", step=world.steps[0])
    theirs = SessionFactory(cohort=Cohort.objects.get(slug="cohort-b"), number=1, title="Theirs")
    return ours, theirs


# --- Feeds -------------------------------------------------------------------------------


def test_cohort_feed_needs_no_login_and_is_a_calendar(world, sessions, client):
    response = client.get(_cohort_feed(world.cohort))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'inline; filename="cohort-a-office-hours.ics"'
    assert response["Cache-Control"] == "private, max-age=300"
    assert _summaries(response) == ["Office hours 1: Ours"]


def test_member_feed_is_private_and_not_stored(world, sessions, client):
    SessionRSVP.objects.create(session=sessions[0], membership=world.alice_membership)

    response = client.get(_member_feed(world.alice_membership))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    assert "filename=" in response["Content-Disposition"]
    assert _summaries(response) == ["Office hours 1: Ours (going)"]


def test_another_cohorts_tokens_never_read_this_cohort(world, sessions, client):
    other_cohort = Cohort.objects.get(slug="cohort-b")
    outsider = Membership.objects.get(user=world.outsider)

    assert _summaries(client.get(_cohort_feed(other_cohort))) == ["Office hours 1: Theirs"]
    assert _summaries(client.get(_member_feed(outsider))) == ["Office hours 1: Theirs"]


def test_tokens_only_work_in_their_own_kind_of_feed(world, sessions, client):
    as_member = reverse("cohort:calendar_member_feed", args=[world.cohort.calendar_token])
    as_cohort = reverse("cohort:calendar_cohort_feed", args=[world.alice_membership.calendar_token])

    assert client.get(as_member).status_code == 404
    assert client.get(as_cohort).status_code == 404
    assert client.get(reverse("cohort:calendar_cohort_feed", args=["not-a-token"])).status_code == 404


def test_deactivated_member_feed_is_gone(world, sessions, client):
    User.objects.filter(pk=world.alice.pk).update(is_active=False)

    assert client.get(_member_feed(world.alice_membership)).status_code == 404


def test_feed_answers_head_but_not_post(world, sessions, client):
    assert client.head(_cohort_feed(world.cohort)).status_code == 200
    assert client.post(_cohort_feed(world.cohort)).status_code == 405


def test_feed_polled_too_often_gets_429(world, sessions, client):
    url = _member_feed(world.alice_membership)
    for _ in range(FEED_REQUESTS_PER_MINUTE):
        assert client.get(url).status_code == 200

    response = client.get(url)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another feed is not slowed down by this one.
    assert client.get(_member_feed(world.bob_membership)).status_code == 200


def _many_sessions(cohort: Cohort, count: int, member: Membership) -> None:
    for n in range(1, count + 1):
        session = SessionFactory(
            cohort=cohort, number=n, starts_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC) + dt.timedelta(weeks=n)
        )
        TopicFactory(session=session, position=1, step=cohort.steps.first())
        TopicFactory(session=session, position=2, step=None)
        if n % 2:
            SessionRSVP.objects.create(session=session, membership=member)


@pytest.mark.parametrize("count", [pytest.param(2, id="2-sessions"), pytest.param(30, id="30-sessions")])
def test_feed_query_count_is_constant(world, client, count, django_assert_num_queries):
    _many_sessions(world.cohort, count, world.alice_membership)
    password = make_password(None)
    crowd = User.objects.bulk_create(User(email=f"cal-crowd{i}@example.com", password=password) for i in range(50))
    Membership.objects.bulk_create(Membership(user=u, cohort=world.cohort, role=Role.LEARNER) for u in crowd)

    with django_assert_num_queries(COHORT_FEED_QUERIES):
        cohort_response = client.get(_cohort_feed(world.cohort))
    with django_assert_num_queries(MEMBER_FEED_QUERIES):
        member_response = client.get(_member_feed(world.alice_membership))

    assert len(_summaries(cohort_response)) == count
    assert sum(s.endswith("(going)") for s in _summaries(member_response)) == (count + 1) // 2


# --- Rotation ----------------------------------------------------------------------------


def test_member_rotates_own_feed_old_url_404_new_works(world, sessions):
    old_url = _member_feed(world.alice_membership)
    client = world.client_for(world.alice)

    response = client.post(reverse("cohort:calendar_rotate", args=["cohort-a"]))

    world.alice_membership.refresh_from_db()
    assert response.status_code == 302
    assert response.url == reverse("cohort:sessions", args=["cohort-a"]) + "#calendar"
    assert client.get(old_url).status_code == 404
    assert client.get(_member_feed(world.alice_membership)).status_code == 200


def test_rotating_changes_only_the_callers_feed(world, sessions):
    bob_before = world.bob_membership.calendar_token
    cohort_before = world.cohort.calendar_token

    world.client_for(world.alice).post(reverse("cohort:calendar_rotate", args=["cohort-a"]))

    world.bob_membership.refresh_from_db()
    world.cohort.refresh_from_db()
    assert (world.bob_membership.calendar_token, world.cohort.calendar_token) == (bob_before, cohort_before)


def test_lead_rotates_cohort_feed_old_url_404_new_works(world, sessions, client):
    old_url = _cohort_feed(world.cohort)

    response = world.client_for(world.lead).post(reverse("cohort:calendar_cohort_rotate", args=["cohort-a"]))

    world.cohort.refresh_from_db()
    assert response.status_code == 302
    assert client.get(old_url).status_code == 404
    assert client.get(_cohort_feed(world.cohort)).status_code == 200


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 403), ("outsider", 404), (None, 302)], ids=["learner", "outsider", "anonymous"]
)
def test_only_leads_rotate_the_cohort_feed(world, sessions, who, status):
    before = world.cohort.calendar_token
    client = world.client_for(getattr(world, who) if who else None)

    response = client.post(reverse("cohort:calendar_cohort_rotate", args=["cohort-a"]))

    world.cohort.refresh_from_db()
    assert response.status_code == status
    assert world.cohort.calendar_token == before
    if who is None:
        assert response.url.startswith(LOGIN_URL)


def test_outsider_and_anonymous_cannot_rotate_a_member_feed(world, sessions):
    before = world.alice_membership.calendar_token

    outsider = world.client_for(world.outsider).post(reverse("cohort:calendar_rotate", args=["cohort-a"]))
    anonymous = world.client_for(None).post(reverse("cohort:calendar_rotate", args=["cohort-a"]))

    world.alice_membership.refresh_from_db()
    assert outsider.status_code == 404
    assert anonymous.status_code == 302
    assert world.alice_membership.calendar_token == before


def test_rotation_is_post_only_and_needs_csrf(world, sessions):
    client = world.client_for(world.alice)
    csrf_client = world.client_for(world.alice)
    csrf_client.handler.enforce_csrf_checks = True
    before = world.alice_membership.calendar_token

    assert client.get(reverse("cohort:calendar_rotate", args=["cohort-a"])).status_code == 405
    assert csrf_client.post(reverse("cohort:calendar_rotate", args=["cohort-a"])).status_code == 403

    world.alice_membership.refresh_from_db()
    assert world.alice_membership.calendar_token == before


# --- Per-session download ----------------------------------------------------------------


def test_member_downloads_one_session_as_ics(world, sessions):
    response = world.client_for(world.alice).get(_ics(1))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="cohort-a-office-hours-1.ics"'
    assert response["Cache-Control"].startswith("private")
    assert _summaries(response) == ["Office hours 1: Ours"]


@pytest.mark.parametrize(
    ("who", "url_args"),
    [("outsider", (1,)), ("alice", (2,)), ("alice", (1, "cohort-b"))],
    ids=["outsider", "no-such-session", "another-cohort"],
)
def test_session_ics_is_404_outside_the_members_cohort(world, sessions, who, url_args):
    response = world.client_for(getattr(world, who)).get(_ics(*url_args))

    assert response.status_code == 404


def test_session_ics_needs_login(world, sessions):
    response = world.client_for(None).get(_ics(1))

    assert response.status_code == 302
    assert response.url.startswith(LOGIN_URL)


# --- Page pieces -------------------------------------------------------------------------


def test_sessions_page_shows_the_members_private_feed_and_a_rotate_button(world, sessions, settings):
    settings.SITE_URL = "https://app.firstbreak.ai"
    token = world.alice_membership.calendar_token

    page = world.client_for(world.alice).get(reverse("cohort:sessions", args=["cohort-a"])).content.decode()

    assert f"webcal://app.firstbreak.ai/calendars/member/{token}.ics" in page
    assert f"https://app.firstbreak.ai/calendars/member/{token}.ics" in page
    assert reverse("cohort:calendar_rotate", args=["cohort-a"]) in page
    assert world.cohort.calendar_token not in page
    assert world.bob_membership.calendar_token not in page


def test_sessions_page_shows_leads_the_cohort_feed(world, sessions):
    page = world.client_for(world.lead).get(reverse("cohort:sessions", args=["cohort-a"])).content.decode()

    assert f"/calendars/cohort/{world.cohort.calendar_token}.ics" in page
    assert reverse("cohort:calendar_cohort_rotate", args=["cohort-a"]) in page


def test_session_page_offers_ics_and_google_calendar(world, sessions):
    page = world.client_for(world.alice).get(reverse("cohort:session", args=["cohort-a", 1])).content.decode()

    assert _ics(1) in page
    assert "https://calendar.google.com/calendar/render?action=TEMPLATE" in page
    assert "dates=20300313T170000Z%2F20300313T180000Z" in page
