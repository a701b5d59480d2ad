"""Live means live (issue 12): the pages' one poll, announcements, the lead's queue tools, estimates and statistics."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from cohort.models import (
    HelpRequest,
    HelpRequestStatus,
    HelpResolution,
    OfficeHoursSession,
    Role,
    SessionAnnouncement,
    SessionStatus,
)
from cohort.office_hours import live_selectors as selectors
from cohort.office_hours import live_services as services
from cohort.office_hours import queue_selectors
from cohort.office_hours.services import session_set_status
from tests.factories import MembershipFactory, SessionFactory
from tests.helpers import HTMX

pytestmark = pytest.mark.django_db

CODE = "LV4K3Y"
# Session, user, then one light query of the session row and the membership: the unchanged poll reads no more.
UNCHANGED_POLL_QUERIES = 3


def _url(name: str, *args: object) -> str:
    return reverse(f"cohort:{name}", args=["cohort-a", 1, *args])


def _session(world, status: str = SessionStatus.SCHEDULED, **extra) -> OfficeHoursSession:  # type: ignore[no-untyped-def]
    session = SessionFactory(
        cohort=world.cohort,
        number=1,
        status=status,
        starts_at=timezone.now() + dt.timedelta(minutes=5),
        check_in_code=CODE,
        **extra,
    )
    session.leads.set([world.lead])
    return session


def _keys(html: str) -> dict[str, str]:
    """What the page's poll sends back: the [data-live-key] inputs, as the browser would (later ones win)."""
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)" data-live-key>', html))


def _page_keys(client, url: str = "") -> dict[str, str]:  # type: ignore[no-untyped-def]
    page = client.get(url or _url("session")).content.decode()
    queue = client.get(_url("help_queue"), **HTMX).content.decode()
    return _keys(page + queue)


def _poll(client, keys: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.get(_url("session_live_state"), keys, **HTMX)


# --- The poll -----------------------------------------------------------------------------


def test_poll_answers_204_from_the_session_row_alone_while_nothing_changes(world, django_assert_num_queries):
    _session(world, SessionStatus.LIVE)
    client = world.client_for(world.alice)
    keys = _page_keys(client)

    with django_assert_num_queries(UNCHANGED_POLL_QUERIES):
        response = _poll(client, keys)

    assert response.status_code == 204 and response.content == b""


def test_session_going_live_redraws_status_check_in_and_queue(world):
    """Item 4: a learner watching the page sees the session go live, with a link to the live page."""
    session = _session(world)
    client = world.client_for(world.alice)
    keys = _page_keys(client)
    assert "Not live yet" in client.get(_url("session")).content.decode()

    session_set_status(session=session, status=SessionStatus.LIVE)
    response = _poll(client, keys)

    html = unescape(response.content.decode())
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="live-pulse"')
    assert 'id="live-status"' in html and "Live now." in html
    assert f'href="{_url("session_live")}"' in html  # the session page links to the live page
    assert '<span id="session-status-badge" hx-swap-oob="true">' in html and "session-live" in html
    assert 'id="rsvp-panel"' in html and "Session code" in html  # the check-in box
    assert 'id="help-queue"' in html and "What are you stuck on?" in html  # the whole queue: its mode changed
    # Nothing was announced: that panel is not sent.
    assert 'id="announcements"' not in html
    # The next poll with the keys it now has: nothing more.
    assert _poll(client, _keys(html) | {k: v for k, v in keys.items() if k not in _keys(html)}).status_code == 204


def test_another_learner_checking_in_does_not_redraw_my_check_in_box(world):
    session = _session(world, SessionStatus.LIVE)
    client = world.client_for(world.alice)
    keys = _page_keys(client)

    services.attendance_check_in(session=session, membership=world.bob_membership, code=CODE)
    html = _poll(client, keys).content.decode()

    # The version moved (Bob's check-in), but nothing Alice shows changed: only the poll element comes back.
    assert 'id="live-pulse"' in html
    assert 'id="rsvp-panel"' not in html and 'id="help-queue' not in html


def test_queue_position_change_sends_only_the_status_line(world):
    session = _session(world, SessionStatus.LIVE)
    bob_request, _ = services.help_request_join(session=session, membership=world.bob_membership, description="b")
    services.help_request_join(session=session, membership=world.alice_membership, description="a")
    client = world.client_for(world.alice)
    keys = _page_keys(client)
    assert keys["qm"] == "waiting"

    services.help_request_take(session=session, request=bob_request, helper=world.lead)
    html = _poll(client, keys).content.decode()

    assert '<div id="help-queue-status" class="queue-status" data-mode="waiting" hx-swap-oob="true">' in html
    assert "You are number 1 in the queue" in html
    assert '<section id="help-queue"' not in html  # the rest of the panel (a form being typed) stays


def test_learners_turn_sends_helping_mode_with_the_help_room(world):
    session = _session(world, SessionStatus.LIVE, help_room_url="https://meet.example.com/help-1")
    request, _ = services.help_request_join(session=session, membership=world.alice_membership, description="a")
    client = world.client_for(world.alice)
    keys = _page_keys(client)

    services.help_request_take(session=session, request=request, helper=world.lead)
    html = _poll(client, keys).content.decode()

    assert 'data-mode="helping"' in html  # what live-session.js turns into the title change and notification
    assert 'href="https://meet.example.com/help-1"' in html and "Join the help room" in html


def test_staff_poll_redraws_the_queue_when_someone_joins(world):
    session = _session(world, SessionStatus.LIVE)
    client = world.client_for(world.lead)
    keys = _page_keys(client)

    services.help_request_join(session=session, membership=world.bob_membership, description="CMake fails")
    html = _poll(client, keys).content.decode()

    assert '<section id="help-queue"' in html and "CMake fails" in html


def test_poll_permissions(world):
    _session(world, SessionStatus.LIVE)
    outsider = world.client_for(world.outsider)
    anonymous = world.client_for(None)

    assert outsider.get(_url("session_live_state"), {"v": "x"}, **HTMX).status_code == 404
    expired = anonymous.get(_url("session_live_state"), {"v": "x"}, **HTMX)
    assert (expired.status_code, expired["HX-Refresh"]) == (204, "true")
    # Without htmx (someone opening the URL): the live page.
    assert world.client_for(world.alice).get(_url("session_live_state")).status_code == 302


@pytest.mark.parametrize(
    ("status", "starts_in", "interval"),
    [
        (SessionStatus.LIVE, dt.timedelta(hours=5), "1s"),
        (SessionStatus.SCHEDULED, dt.timedelta(minutes=50), "1s"),
        (SessionStatus.SCHEDULED, dt.timedelta(minutes=-20), "1s"),
        (SessionStatus.SCHEDULED, dt.timedelta(days=2), "10s"),
        (SessionStatus.SCHEDULED, dt.timedelta(days=-2), "10s"),
        (SessionStatus.ENDED, dt.timedelta(hours=-2), "10s"),
    ],
)
def test_poll_interval_is_a_second_while_live_or_about_to_be(world, status, starts_in, interval):
    now = timezone.now()
    session = SessionFactory(cohort=world.cohort, status=status, starts_at=now + starts_in)

    assert selectors.pulse_interval(session, now) == interval


# --- Announcements ------------------------------------------------------------------------


def test_lead_announcement_reaches_a_learners_open_page(world):
    _session(world, SessionStatus.LIVE)
    learner = world.client_for(world.alice)
    keys = _page_keys(learner)

    posted = world.client_for(world.lead).post(_url("announcement_post"), {"body": "  Now on   topic 2 "}, **HTMX)
    html = _poll(learner, keys).content.decode()

    assert posted.status_code == 200 and "Now on topic 2" in posted.content.decode()
    assert '<section id="announcements"' in html and "Now on topic 2" in html
    assert SessionAnnouncement.objects.get().body == "Now on topic 2"


@pytest.mark.parametrize("body", ["", "   ", "x" * 281])
def test_bad_announcement_is_a_400_with_the_reason(world, body):
    _session(world, SessionStatus.LIVE)

    response = world.client_for(world.lead).post(_url("announcement_post"), {"body": body}, **HTMX)

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert not SessionAnnouncement.objects.exists()


def test_announcement_permissions(world):
    session = _session(world, SessionStatus.LIVE)
    item = services.announcement_post(session=session, author=world.lead, body="Break")
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user

    assert world.client_for(world.alice).post(_url("announcement_post"), {"body": "hi"}).status_code == 403
    assert world.client_for(mentor).post(_url("announcement_post"), {"body": "hi"}).status_code == 403
    assert world.client_for(world.outsider).post(_url("announcement_post"), {"body": "hi"}).status_code == 404
    assert world.client_for(None).post(_url("announcement_post"), {"body": "hi"}).status_code == 302
    assert world.client_for(world.alice).post(_url("announcement_delete", item.pk)).status_code == 403
    assert world.client_for(world.lead).post(_url("announcement_delete", item.pk + 99)).status_code == 404
    assert world.client_for(world.lead).post(_url("announcement_delete", item.pk), **HTMX).status_code == 200
    assert not SessionAnnouncement.objects.exists()


# --- The lead's queue tools ---------------------------------------------------------------


def test_put_back_returns_the_learner_to_their_place(world):
    session = _session(world, SessionStatus.LIVE)
    first, _ = services.help_request_join(session=session, membership=world.alice_membership, description="a")
    services.help_request_join(session=session, membership=world.bob_membership, description="b")
    services.help_request_take(session=session, request=first, helper=world.lead)

    response = world.client_for(world.lead).post(_url("help_request_put_back", first.pk), **HTMX)

    first.refresh_from_db()
    assert response.status_code == 200 and "back in the queue" in unescape(response.content.decode())
    assert (first.status, first.helped_by, first.started_at) == (HelpRequestStatus.WAITING, None, None)
    alice = queue_selectors.learner_queue(session=session, viewer=world.alice_membership)
    assert (alice.mode, alice.position) == ("waiting", 1)


def test_put_back_of_a_waiting_request_is_refused(world):
    session = _session(world, SessionStatus.LIVE)
    request, _ = services.help_request_join(session=session, membership=world.alice_membership, description="a")

    response = world.client_for(world.lead).post(_url("help_request_put_back", request.pk), **HTMX)

    assert response.status_code == 400
    assert "Only a request being helped" in response.content.decode()


def test_finish_with_a_resolution_and_a_private_note_the_learner_never_sees(world):
    session = _session(world, SessionStatus.LIVE)
    request, _ = services.help_request_join(session=session, membership=world.alice_membership, description="a")
    services.help_request_take(session=session, request=request, helper=world.lead)
    lead = world.client_for(world.lead)

    lead.post(
        _url("help_request_finish", request.pk),
        {"resolution": HelpResolution.FOLLOW_UP, "note": "SECRET: check her CUDA install next week"},
        **HTMX,
    )

    request.refresh_from_db()
    assert (request.status, request.resolution) == (HelpRequestStatus.DONE, HelpResolution.FOLLOW_UP)
    assert request.staff_note == "SECRET: check her CUDA install next week"
    staff_view = lead.get(_url("help_queue"), **HTMX).content.decode()
    assert "SECRET" in staff_view and "Needs a follow-up" in staff_view
    alice = world.client_for(world.alice)
    for url in (_url("session"), _url("session_live")):
        assert "SECRET" not in alice.get(url).content.decode()
    assert "SECRET" not in alice.get(_url("help_queue"), **HTMX).content.decode()


def test_annotate_after_the_session_and_bad_tags_refused(world):
    session = _session(world, SessionStatus.LIVE)
    request, _ = services.help_request_join(session=session, membership=world.alice_membership, description="a")
    session_set_status(session=session, status=SessionStatus.ENDED)
    lead = world.client_for(world.lead)

    bad = lead.post(_url("help_request_annotate", request.pk), {"resolution": "nonsense", "note": "n"}, **HTMX)
    long = lead.post(_url("help_request_annotate", request.pk), {"note": "x" * 1001}, **HTMX)
    good = lead.post(_url("help_request_annotate", request.pk), {"resolution": "explained", "note": "ok"}, **HTMX)
    learner = world.client_for(world.alice).post(_url("help_request_annotate", request.pk), {"note": "x"})

    request.refresh_from_db()
    assert (bad.status_code, long.status_code, good.status_code, learner.status_code) == (400, 400, 200, 403)
    assert (request.resolution, request.staff_note) == ("explained", "ok")


def test_lead_sets_the_help_room_link(world):
    session = _session(world, SessionStatus.LIVE)
    lead = world.client_for(world.lead)

    bad = lead.post(_url("session_help_room"), {"help_room_url": "javascript:alert(1)"}, **HTMX)
    good = lead.post(_url("session_help_room"), {"help_room_url": "https://meet.example.com/room"}, **HTMX)
    learner = world.client_for(world.alice).post(_url("session_help_room"), {"help_room_url": "https://x.example"})

    session.refresh_from_db()
    assert (bad.status_code, good.status_code, learner.status_code) == (400, 200, 403)
    assert session.help_room_url == "https://meet.example.com/room"


def test_every_live_write_moves_the_live_version(world):
    session = _session(world, SessionStatus.LIVE)

    def version() -> int:
        return OfficeHoursSession.objects.get(pk=session.pk).live_version

    seen = [version()]
    services.rsvp_add(session=session, membership=world.alice_membership)
    seen.append(version())
    services.attendance_check_in(session=session, membership=world.alice_membership, code=CODE)
    seen.append(version())
    request, _ = services.help_request_join(session=session, membership=world.alice_membership, description="a")
    seen.append(version())
    services.help_request_take(session=session, request=request, helper=world.lead)
    seen.append(version())
    services.help_request_put_back(session=session, request=request)
    seen.append(version())
    services.announcement_post(session=session, author=world.lead, body="Hello")
    seen.append(version())
    session_set_status(session=session, status=SessionStatus.ENDED)
    seen.append(version())

    assert seen == sorted(seen) and len(set(seen)) == len(seen)


# --- Estimated wait and wait statistics ---------------------------------------------------


def _helped(session, membership, *, joined: dt.datetime, waited: int, took: int) -> HelpRequest:  # type: ignore[no-untyped-def]
    started = joined + dt.timedelta(minutes=waited)
    return HelpRequest.objects.create(
        session=session,
        membership=membership,
        description="x",
        status=HelpRequestStatus.DONE,
        joined_at=joined,
        started_at=started,
        finished_at=started + dt.timedelta(minutes=took),
    )


def test_estimated_wait_from_this_sessions_helps_then_past_sessions(world):
    now = timezone.now()
    past = SessionFactory(cohort=world.cohort, number=9, status=SessionStatus.ENDED, starts_at=now - dt.timedelta(7))
    _helped(past, world.bob_membership, joined=now - dt.timedelta(days=7), waited=1, took=10)
    session = _session(world, SessionStatus.LIVE)
    crowd = [MembershipFactory(cohort=world.cohort) for _ in range(3)]
    for member in crowd:
        services.help_request_join(session=session, membership=member, description="q")

    from_past = queue_selectors.learner_queue(session=session, viewer=world.alice_membership)
    _helped(session, world.bob_membership, joined=now - dt.timedelta(minutes=30), waited=2, took=4)
    from_this = queue_selectors.learner_queue(session=session, viewer=crowd[2])

    # A newcomer is 4th: 3.5 helps of 10 min (the past session's) before their turn.
    assert (from_past.mode, from_past.estimated_wait) == ("join", 35)
    # The third in line waits 2.5 of this session's 4-minute helps.
    assert (from_this.position, from_this.estimated_wait) == (3, 10)
    assert queue_selectors.estimated_wait(ahead=1, helpers=2, typical=4) == 1
    assert queue_selectors.estimated_wait(ahead=3, helpers=1, typical=None) is None


def test_estimated_wait_shows_on_the_learners_panel(world):
    session = _session(world, SessionStatus.LIVE)
    _helped(session, world.bob_membership, joined=timezone.now() - dt.timedelta(minutes=20), waited=1, took=6)
    services.help_request_join(session=session, membership=world.alice_membership, description="a")

    html = world.client_for(world.alice).get(_url("help_queue"), **HTMX).content.decode()

    assert "Estimated wait: about 3 min." in html


def test_wait_statistics_after_the_session_for_the_page_and_the_lead_home(world, django_assert_num_queries):
    now = timezone.now()
    session = _session(world, SessionStatus.LIVE)
    other = SessionFactory(cohort=world.cohort, number=2, status=SessionStatus.ENDED)
    crowd = [MembershipFactory(cohort=world.cohort) for _ in range(4)]
    _helped(session, crowd[0], joined=now - dt.timedelta(minutes=50), waited=2, took=5)
    _helped(session, crowd[1], joined=now - dt.timedelta(minutes=50), waited=6, took=5)
    _helped(session, crowd[2], joined=now - dt.timedelta(minutes=50), waited=10, took=5)
    HelpRequest.objects.create(
        session=session, membership=crowd[3], description="gave up", joined_at=now - dt.timedelta(minutes=40)
    )
    session_set_status(session=session, status=SessionStatus.ENDED)  # closes the waiting one as not helped

    with django_assert_num_queries(1):
        stats = selectors.wait_stats_for_sessions(session_ids=[session.pk, other.pk])

    mine = stats[session.pk]
    assert (mine.helped, mine.not_helped, mine.median_wait_minutes, mine.median_help_minutes) == (3, 1, 6.0, 5.0)
    assert mine.longest_wait_minutes == pytest.approx(40, abs=0.2)  # the one nobody took, until the end
    assert stats[other.pk].asked == 0 and stats[other.pk].median_wait_minutes is None
    page = unescape(world.client_for(world.alice).get(_url("session")).content.decode())
    assert "Help queue, after the session" in page and "Median wait" in page and "6 min" in page


def test_no_wait_statistics_before_the_session_ends(world):
    session = _session(world, SessionStatus.LIVE)
    _helped(session, world.bob_membership, joined=timezone.now(), waited=1, took=1)

    assert "Help queue, after the session" not in world.client_for(world.alice).get(_url("session")).content.decode()


def test_plain_posts_without_javascript_come_back_to_the_live_page(world):
    session = _session(world, SessionStatus.LIVE)
    request, _ = services.help_request_join(session=session, membership=world.alice_membership, description="a")
    services.help_request_take(session=session, request=request, helper=world.lead)
    lead = world.client_for(world.lead)
    live = _url("session_live")

    posted = lead.post(_url("announcement_post"), {"body": "Break until 18:10"})
    room = lead.post(_url("session_help_room"), {"help_room_url": "https://meet.example.com/r"})
    back = lead.post(_url("help_request_put_back", request.pk))
    page = lead.get(live)

    assert posted["Location"] == live + "#announcements"
    assert room["Location"] == live + "#help-queue" and back["Location"] == live + "#help-queue"
    html = unescape(page.content.decode())
    assert "Break until 18:10" in html and "Announcement posted." in html and "is back in the queue" in html
