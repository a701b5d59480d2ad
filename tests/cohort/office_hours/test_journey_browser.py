"""One office-hours session in a real Chromium, from the first question to the published recap.

Two learners and a lead, each in their own browser context: a question and an
upvote, the lead starting the session, check-in with the spoken code, the help
queue (learner A behind learner B, A's position moving from 2 to 1 on its own
when the lead takes B), then the recap the learners read.

The browser fixtures (`page_for`) come from tests/browser.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cohort.models import (
    HelpRequest,
    HelpRequestStatus,
    QuestionVote,
    SessionAttendance,
    SessionQuestion,
    SessionRSVP,
    SessionStatus,
)
from cohort.office_hours import live_services as live_sessions
from tests.factories import SessionFactory, TopicFactory

pytestmark = pytest.mark.e2e

CODE = "QW3N06"
# A learner's queue position is polled every second while live: a change shows within 2 s, 3 s allows for load.
POSITION_TIMEOUT_MS = 3_000
# Before the session is live a page that starts within 30 minutes polls every 5 s.
GOING_LIVE_TIMEOUT_MS = 8_000


def _open_session(page: Page) -> None:
    page.goto("/c/cohort-a/sessions/1/")
    page.wait_for_load_state()  # htmx binds hx-post and loads the panels once the deferred script has run
    page.evaluate("window.__sameDocument = true")


def _join_queue(page: Page, description: str, error_log: str = "") -> None:
    form = page.locator("#help-queue")
    expect(form.get_by_label("What are you stuck on?")).to_be_visible(timeout=GOING_LIVE_TIMEOUT_MS)
    form.get_by_label("What are you stuck on?").fill(description)
    if error_log:
        form.get_by_text("Add a debug capsule").click()
        form.get_by_label("Error output").fill(error_log)
    form.get_by_role("button", name="Join the queue").click()


def test_question_vote_check_in_help_queue_and_recap(page_for, world):
    session = SessionFactory(
        cohort=world.cohort,
        number=1,
        title="Git and Qwen3",
        starts_at=timezone.now() + dt.timedelta(minutes=10),
        check_in_code=CODE,
    )
    session.leads.set([world.lead])
    TopicFactory(session=session, position=1, title="GitHub collaboration", step=world.steps[0])
    alice, bob, lead = page_for(world.alice), page_for(world.bob), page_for(world.lead)

    # Before the session: Alice asks, Bob upvotes, the queue is not open yet.
    _open_session(alice)
    expect(alice.locator("#help-queue")).to_contain_text("opens when the lead starts the session")
    alice.get_by_label("Your question").fill("How do I rebase my branch onto main after a conflict?")
    alice.get_by_role("button", name="Ask").click()
    expect(alice.locator(".question-list")).to_contain_text("rebase my branch onto main")
    _open_session(bob)
    vote = bob.locator(".question-list li", has_text="rebase my branch").locator("button.vote-button")
    vote.click()
    expect(vote).to_have_attribute("aria-pressed", "true")
    bob.locator("#rsvp-panel").get_by_role("button", name="RSVP: I'll be there").click()
    expect(bob.locator("#rsvp-panel")).to_contain_text("1 going, you included")

    # The lead starts the session; the check-in code shows on their page.
    _open_session(lead)
    lead.get_by_label("Status").select_option("live")
    lead.get_by_role("button", name="Set status").click()
    expect(lead.locator("#rsvp-panel .check-in-code .code")).to_have_text(CODE)

    # The learners' open pages notice by themselves; Alice checks in with the code as she heard it.
    expect(alice.get_by_label("Session code")).to_be_visible(timeout=GOING_LIVE_TIMEOUT_MS)
    alice.get_by_label("Session code").fill(" qw3n06")
    alice.locator("#rsvp-panel").get_by_role("button", name="Check in").click()
    expect(alice.locator("#rsvp-panel")).to_contain_text("You're checked in.")

    # Bob joins first with a debug capsule, Alice second.
    _join_queue(bob, "llama-cpp-python fails to build on Windows", error_log="CMake Error: CMAKE_C_COMPILER not set")
    expect(bob.locator(".queue-position")).to_have_text("You are number 1 in the queue")
    _join_queue(alice, "Qwen3 repeats itself at temperature 0")
    expect(alice.locator(".queue-position")).to_have_text("You are number 2 in the queue")

    # The lead's queue fills in by itself, capsule included; they take Bob.
    bob_request = HelpRequest.objects.get(membership=world.bob_membership)
    bob_row = lead.locator(f"#help-request-{bob_request.pk}")
    expect(bob_row).to_contain_text("llama-cpp-python fails to build", timeout=POSITION_TIMEOUT_MS)
    expect(lead.locator("#help-queue")).to_contain_text("Qwen3 repeats itself", timeout=POSITION_TIMEOUT_MS)
    bob_row.get_by_role("button", name="Take").click()
    expect(lead.locator(f"#help-request-{bob_request.pk} pre.error-log")).to_have_text(
        "CMake Error: CMAKE_C_COMPILER not set"
    )

    # Alice moves up without reloading; Bob is told a lead is with him.
    expect(alice.locator(".queue-position")).to_have_text("You are number 1 in the queue", timeout=POSITION_TIMEOUT_MS)
    expect(bob.locator(".queue-position")).to_have_text("A lead is helping you now", timeout=POSITION_TIMEOUT_MS)
    lead.locator(f"#help-request-{bob_request.pk}").get_by_role("button", name="Done").click()
    expect(bob.locator("#help-queue")).to_contain_text("A lead helped you in this session", timeout=POSITION_TIMEOUT_MS)
    assert alice.evaluate("window.__sameDocument") is True
    assert bob.evaluate("window.__sameDocument") is True

    # The lead ends the session and publishes the recap through the recap editor.
    lead.goto("/c/cohort-a/sessions/1/")
    lead.get_by_label("Status").select_option("ended")
    lead.get_by_role("button", name="Set status").click()
    lead.goto("/c/cohort-a/sessions/1/recap/edit/")
    lead.get_by_label("Recap").fill("## Rebasing\n\nWe rebased a branch onto main and resolved one conflict together.")
    lead.get_by_role("button", name="Save and publish").click()
    expect(lead.locator(".messages")).to_contain_text("Recap published.")

    # Learners read it: the session page carries it, the recap page links the topic.
    alice.goto("/c/cohort-a/sessions/1/")
    expect(alice.locator("#recap")).to_contain_text("We rebased a branch onto main")
    bob.goto("/c/cohort-a/sessions/1/recap/")
    expect(bob.locator("article.recap")).to_contain_text("resolved one conflict together")
    expect(bob.locator("aside")).to_contain_text("GitHub collaboration")

    question = SessionQuestion.objects.get(session=session)
    assert question.author == world.alice_membership
    assert QuestionVote.objects.get(question=question).voter == world.bob_membership
    assert SessionAttendance.objects.get(session=session).membership == world.alice_membership
    statuses = dict(HelpRequest.objects.values_list("membership_id", "status"))
    # Ending the session closed Alice's open place; Bob's was finished by the lead.
    assert statuses == {
        world.bob_membership.pk: HelpRequestStatus.DONE,
        world.alice_membership.pk: HelpRequestStatus.LEFT,
    }


def _fits(page: Page, name: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than the screen"


def test_live_panels_fit_a_phone_screen(page_for, world):
    session = SessionFactory(
        cohort=world.cohort, number=1, status=SessionStatus.LIVE, starts_at=timezone.now(), check_in_code=CODE
    )
    SessionRSVP.objects.create(session=session, membership=world.bob_membership)
    long_line = "ggml_cuda_init: failed to initialize CUDA: " + "x" * 300
    live_sessions.help_request_join(
        session=session,
        membership=world.bob_membership,
        description="A description without spaces: " + "y" * 200,
        capsule=live_sessions.Capsule(
            model_file="Qwen3-0.6B-Q8_0-with-a-very-long-file-name-for-a-phone-screen.gguf",
            model_sha256="ab" * 32,
            command="python -m llama_cpp.server --model " + "/very/long/path" * 10,
            error_log=long_line + "\n" + long_line,
        ),
    )
    lead, alice = page_for(world.lead), page_for(world.alice)
    for page in (lead, alice):
        page.set_viewport_size({"width": 390, "height": 844})

    lead.goto("/c/cohort-a/sessions/1/")
    expect(lead.locator("#attendance-roster table")).to_be_visible()
    lead.locator("#help-queue .capsule summary").click()
    expect(lead.locator("#help-queue pre.error-log")).to_be_visible()
    _fits(lead, "the lead's session page")
    alice.goto("/c/cohort-a/sessions/1/")
    alice.locator("#help-queue").get_by_text("Add a debug capsule").click()
    expect(alice.get_by_label("Error output")).to_be_visible()
    _fits(alice, "the learner's session page")
    alice.goto("/c/cohort-a/sessions/attendance/")
    _fits(alice, "the attendance page")
