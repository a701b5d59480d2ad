"""Browser journeys of the live session (issue 12), in Debian's Chromium against the live server.

- a learner checks in with the code and reloads the page (it answered 500 before);
- the session goes live while a learner watches, and an announcement arrives, without a reload;
- a learner's turn: the tab title changes and the notification they allowed fires;
- on a phone, while live, the check-in box comes first.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cohort.models import HelpRequest, SessionAttendance, SessionStatus
from cohort.office_hours import live_services as live_sessions
from cohort.office_hours.services import session_set_status
from tests.factories import SessionFactory, TopicFactory

pytestmark = pytest.mark.e2e

CODE = "K3YL1V"
# Pages poll every second while live (or within the hour before): 2 s is the promise, 3 s allows for load.
LIVE_TIMEOUT_MS = 3_000


def _session(world, status: str, **extra):  # type: ignore[no-untyped-def]
    session = SessionFactory(
        cohort=world.cohort,
        number=1,
        title="Sampling, live",
        status=status,
        starts_at=timezone.now() + dt.timedelta(minutes=5),
        check_in_code=CODE,
        **extra,
    )
    session.leads.set([world.lead])
    TopicFactory(session=session, position=1, title="Temperature")
    return session


def _open(page: Page, path: str = "/c/cohort-a/sessions/1/") -> None:
    page.goto(path)
    page.wait_for_load_state()
    page.evaluate("window.__sameDocument = true")


def test_learner_checks_in_and_reloads(page_for, world):
    session = _session(world, SessionStatus.LIVE)
    alice = page_for(world.alice)
    _open(alice)

    alice.get_by_label("Session code").fill(CODE.lower())
    alice.locator("#rsvp-panel").get_by_role("button", name="Check in").click()
    expect(alice.locator("#rsvp-panel")).to_contain_text("You're checked in.")
    response = alice.reload()

    assert response is not None and response.status == 200
    expect(alice.locator("#rsvp-panel")).to_contain_text("Checked in at")
    assert SessionAttendance.objects.filter(session=session, membership=world.alice_membership).exists()


def test_session_goes_live_while_a_learner_watches(page_for, world):
    session = _session(world, SessionStatus.SCHEDULED, meeting_url="https://meet.example.com/oh-1")
    alice = page_for(world.alice)
    _open(alice)
    expect(alice.locator("#live-status")).to_contain_text("Not live yet")
    expect(alice.locator("#help-queue")).to_contain_text("opens when the lead starts the session")

    session_set_status(session=session, status=SessionStatus.LIVE)

    expect(alice.locator("#live-status")).to_contain_text("Live now.", timeout=LIVE_TIMEOUT_MS)
    expect(alice.locator("#session-status-badge")).to_have_text("Live")
    expect(alice.locator("#live-status").get_by_role("link", name="Open the live page")).to_have_attribute(
        "href", "/c/cohort-a/sessions/1/live/"
    )
    expect(alice.get_by_label("Session code")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(alice.locator("#help-queue").get_by_label("What are you stuck on?")).to_be_visible()

    live_sessions.announcement_post(session=session, author=world.lead, body="Starting with topic 1: temperature")
    expect(alice.locator("#announcements")).to_contain_text("Starting with topic 1", timeout=LIVE_TIMEOUT_MS)

    # Typing is never swapped away: Bob checks in (the version moves) while Alice types her code.
    alice.get_by_label("Session code").fill("K3Y")
    live_sessions.attendance_check_in(session=session, membership=world.bob_membership, code=CODE)
    alice.wait_for_timeout(1_500)
    expect(alice.get_by_label("Session code")).to_have_value("K3Y")
    assert alice.evaluate("window.__sameDocument") is True


def test_learners_turn_changes_the_title_and_notifies(page_for, world, live_server):
    session = _session(world, SessionStatus.LIVE, help_room_url="https://meet.example.com/help")
    live_sessions.help_request_join(session=session, membership=world.bob_membership, description="first")
    alice = page_for(world.alice)
    alice.context.grant_permissions(["notifications"], origin=live_server.url)
    # Record the notifications the page creates (headless Chromium shows none).
    alice.add_init_script(
        """
        window.__notes = [];
        const Native = window.Notification;
        window.Notification = class extends Native {
          constructor(title, options) { super(title, options); window.__notes.push(title); }
        };
        """
    )
    _open(alice)
    title = alice.title()
    queue = alice.locator("#help-queue")
    queue.get_by_label("What are you stuck on?").fill("Qwen3 repeats itself at temperature 0")
    queue.get_by_role("button", name="Join the queue").click()
    expect(alice.locator(".queue-position")).to_have_text("You are number 2 in the queue")
    alice.get_by_role("button", name="Notify me when it's my turn").click()
    expect(alice.locator("[data-notify-state]")).to_contain_text("We will notify you")

    bob = HelpRequest.objects.get(membership=world.bob_membership)
    live_sessions.help_request_take(session=session, request=bob, helper=world.lead)
    expect(alice.locator(".queue-position")).to_have_text("You are number 1 in the queue", timeout=LIVE_TIMEOUT_MS)
    assert alice.title() == title  # moving up is not your turn yet

    mine = HelpRequest.objects.get(membership=world.alice_membership)
    live_sessions.help_request_finish(session=session, request=bob)
    live_sessions.help_request_take(session=session, request=mine, helper=world.lead)

    expect(alice).to_have_title(f"Your turn! · {title}", timeout=LIVE_TIMEOUT_MS)
    expect(alice.locator(".queue-position")).to_have_text("A lead is helping you now")
    expect(alice.get_by_role("link", name="Join the help room")).to_have_attribute(
        "href", "https://meet.example.com/help"
    )
    assert alice.evaluate("window.__notes") == ["It's your turn"]

    live_sessions.help_request_finish(session=session, request=mine)
    expect(alice).to_have_title(title, timeout=LIVE_TIMEOUT_MS)
    assert alice.evaluate("window.__sameDocument") is True


def test_check_in_box_comes_first_on_a_phone_while_live(page_for, world):
    _session(world, SessionStatus.LIVE)
    alice = page_for(world.alice)
    alice.set_viewport_size({"width": 390, "height": 844})
    _open(alice)

    check_in = alice.locator("#rsvp-panel").bounding_box()
    topics = alice.locator("#topics-heading").bounding_box()
    questions = alice.locator("#questions").bounding_box()

    assert check_in and topics and questions
    assert check_in["y"] < topics["y"] < questions["y"]
    overflow = alice.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
