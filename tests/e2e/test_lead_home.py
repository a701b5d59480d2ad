"""A lead's home, the per-learner page behind every name, one navigation bar on a phone, the time-zone offer."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from cohort.models import CheckIn, CheckInStatus, Role, User
from exercises.models import Exercise, Submission, SubmissionState
from tests.factories import CohortFactory, MembershipFactory

pytestmark = pytest.mark.e2e


def test_lead_home_shows_a_blocker_and_a_waiting_pr_and_links_to_the_learner(page: Page, world, sign_in):
    CheckIn.objects.create(
        membership=world.bob_membership,
        step=world.steps[0],
        status=CheckInStatus.BLOCKED,
        blocker_text="git merge main leaves conflict markers",
    )
    exercise = Exercise.objects.create(cohort=world.cohort, step=world.steps[0], slug="first-pr", title="First PR")
    Submission.objects.create(
        membership=world.bob_membership,
        exercise=exercise,
        repository="first-break-ai/practice",
        pr_number=7,
        pr_url="https://github.com/first-break-ai/practice/pull/7",
        state=SubmissionState.OPEN,
        opened_at=timezone.now() - dt.timedelta(days=4),
    )
    sign_in(page, world.lead)

    page.goto("/")

    expect(page.get_by_role("heading", level=1)).to_have_text("Lead home")
    blockers = page.locator("#home-blockers")
    expect(blockers).to_contain_text("Bob")
    expect(blockers).to_contain_text("git merge main leaves conflict markers")
    reviews = page.locator("#home-reviews")
    expect(reviews).to_contain_text("first-break-ai/practice#7")
    expect(reviews).to_contain_text("waiting since")
    blockers.get_by_role("link", name="Bob").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bob")
    expect(page.locator("main")).to_contain_text("first-break-ai/practice#7")
    expect(page.locator("main")).to_contain_text("git merge main leaves conflict markers")

    # A lead who also learns: one click to their own dashboard, and back.
    page.goto("/")
    page.get_by_role("link", name="Your own dashboard").click()
    expect(page.locator("main")).to_contain_text("Your progress")
    page.get_by_role("link", name="Back to the lead home").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lead home")


def test_learner_page_refused_to_another_cohorts_lead(page: Page, world, sign_in):
    other_lead = MembershipFactory(cohort=CohortFactory(slug="cohort-z"), role=Role.LEAD).user
    sign_in(page, other_lead)

    response = page.goto(f"/c/{world.cohort.slug}/lead/learners/{world.alice_membership.pk}/")

    assert response is not None and response.status == 404
    expect(page.locator("body")).not_to_contain_text("Alice")


def test_lead_pages_have_one_navigation_bar_on_a_phone(new_page, world, sign_in):
    page = new_page(viewport={"width": 390, "height": 844})
    sign_in(page, world.lead)

    page.goto("/")

    top = page.locator(".site-header .nav-links")
    expect(top.get_by_role("link", name="Sandbox")).to_be_hidden()
    expect(top.get_by_role("button", name="Sign out")).to_be_visible()
    lead_nav = page.get_by_role("navigation", name="Lead pages")
    expect(lead_nav.get_by_role("link", name="Sandbox")).to_be_visible()
    expect(lead_nav.get_by_role("link", name="Lead home")).to_be_visible()
    # Wide: the site bar keeps its links and the lead bar does not repeat them.
    page.set_viewport_size({"width": 1280, "height": 900})
    expect(top.get_by_role("link", name="Sandbox")).to_be_visible()
    expect(lead_nav.get_by_role("link", name="Sandbox")).to_be_hidden()


def test_browser_time_zone_is_offered_and_saved(browser: Browser, live_server, world, sign_in):
    context = browser.new_context(base_url=live_server.url, timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        sign_in(page, world.alice)

        page.goto("/")
        offer = page.locator("#tz-offer")
        expect(offer).to_be_visible()
        expect(offer).to_contain_text("Asia/Tokyo")
        offer.get_by_role("button", name="Save time zone").click()

        expect(page.locator(".messages")).to_contain_text("Asia/Tokyo")
        expect(page.locator("#tz-offer")).to_be_hidden()
        assert User.objects.get(pk=world.alice.pk).timezone == "Asia/Tokyo"
    finally:
        context.close()


def test_time_zone_offer_not_now_is_remembered(browser: Browser, live_server, world, sign_in):
    context = browser.new_context(base_url=live_server.url, timezone_id="America/New_York")
    try:
        page = context.new_page()
        sign_in(page, world.alice)
        page.goto("/")
        page.locator("#tz-offer").get_by_role("button", name="Not now").click()
        expect(page.locator("#tz-offer")).to_be_hidden()

        page.reload()

        page.wait_for_load_state()
        expect(page.locator("#tz-offer")).to_be_hidden()
        assert User.objects.get(pk=world.alice.pk).timezone == "UTC"
    finally:
        context.close()
