"""The session page in a browser, now that its questions, RSVP panel and announcements are cached fragments.

A vote and a question go through htmx with the CSRF token the cached HTML got
for this browser; another learner's page shows them; the session going live
reaches a learner who watches, and a check-in survives a reload.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cohort.models import SessionQuestion, SessionStatus
from cohort.office_hours import live_services
from cohort.office_hours import services as office_hours
from tests.e2e.axe import assert_no_csp_violations, watch_csp
from tests.factories import SessionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CODE = "K7PX2Q"


def test_vote_ask_go_live_and_check_in_on_the_cached_session_page(page_for, world):
    # Starting now: the page polls every second, as it does in the hour before a session.
    session = SessionFactory(
        cohort=world.cohort, number=1, title="Sampling", starts_at=timezone.now() + dt.timedelta(minutes=5)
    )
    session.leads.set([world.lead])
    session.check_in_code = CODE
    session.save(update_fields=["check_in_code"])
    bobs = SessionQuestion.objects.create(session=session, author=world.bob_membership, body="Why top-p?")
    url = f"/c/{world.cohort.slug}/sessions/1/"
    alice: Page = page_for(world.alice)
    bob: Page = page_for(world.bob)
    watch_csp(alice.context)
    bob.goto(url)  # Bob's page caches the questions section before Alice's first view
    alice.goto(url)

    # A vote through htmx: the cached section's form carries Alice's own token (a 403 would leave it unpressed).
    vote = alice.locator(f"#question-{bobs.pk} .vote-button")
    expect(vote).to_have_attribute("aria-pressed", "false")
    vote.click()
    expect(alice.locator(f"#question-{bobs.pk} .vote-button")).to_have_attribute("aria-pressed", "true")
    bob.reload()
    expect(bob.locator(f"#question-{bobs.pk} .vote-count")).to_contain_text("▲ 1")

    # A question through htmx, shown to the asker and, on the next view, to everyone.
    alice.get_by_label("Your question").fill("Does temperature change top-k?")
    alice.get_by_role("button", name="Ask").click()
    mine = alice.locator(".question", has_text="Does temperature change top-k?")
    expect(mine).to_contain_text("(you)")
    bob.reload()
    expect(bob.locator(".question", has_text="Does temperature change top-k?")).not_to_contain_text("(you)")

    # The lead starts the session while Alice watches: the banner and the check-in box come without a reload.
    office_hours.session_set_status(session=session, status=SessionStatus.LIVE)
    expect(alice.locator("#live-status")).to_contain_text("Live now.", timeout=5_000)
    code = alice.locator("#rsvp-panel").get_by_label("Session code")
    expect(code).to_be_visible(timeout=5_000)
    code.fill(CODE)
    alice.locator("#rsvp-panel").get_by_role("button", name="Check in").click()
    expect(alice.locator("#rsvp-panel")).to_contain_text("Checked in")

    # An announcement reaches the page by the poll; a reload serves the new state, not the cached old one.
    live_services.announcement_post(session=session, author=world.lead, body="Now on topic 2")
    expect(alice.locator("#announcements")).to_contain_text("Now on topic 2", timeout=5_000)
    alice.reload()
    expect(alice.locator("#rsvp-panel")).to_contain_text("Checked in")
    expect(alice.locator("#announcements")).to_contain_text("Now on topic 2")
    assert_no_csp_violations(alice)
