"""Newcomers: sign up, confirm the email address, join a cohort with its invite code."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from tests.factories import CohortFactory, StepFactory, UserFactory

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "lantern-orbit-417"


@pytest.fixture(autouse=True)
def _site_url_is_the_live_server(settings, live_server):
    # Links in mail are built on SITE_URL (never the request's Host): point it at the test server.
    settings.SITE_URL = live_server.url


def _sign_up(page: Page, email: str) -> None:
    form = page.locator("main form")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password1]").fill(NEW_PASSWORD)
    form.locator("input[name=password2]").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("verify your email", re.IGNORECASE))


def _confirm_from_email(page: Page, email: str) -> None:
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [email]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body)
    assert link, message.body
    page.goto(link.group(0))
    # Opening the link only asks; nothing is confirmed until the button is pressed.
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("confirm email address", re.IGNORECASE))
    with page.expect_response(lambda r: r.request.method == "POST") as confirmed:
        page.locator("main form").get_by_role("button", name="Confirm").click()
    assert confirmed.value.status == 302, f"confirming answered {confirmed.value.status}"


def test_signup_from_an_invite_confirms_email_and_joins_the_cohort(page: Page):
    cohort = CohortFactory(name="Spring 2026", slug="spring-2026")
    titles = ["Collaborate on GitHub", "Tokens and tokenizers", "Sampling and temperature"]
    for position, title in enumerate(titles, start=1):
        StepFactory(cohort=cohort, position=position, title=title, summary=f"About {title.lower()}.")

    # The lead said "go to /join/ and enter the code"; the newcomer has no account yet.
    page.goto("/join/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/join/$"))
    page.locator("main").get_by_role("link", name="sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/"))
    _sign_up(page, "newcomer@example.com")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    _confirm_from_email(page, "newcomer@example.com")

    expect(page.get_by_role("heading", level=1)).to_have_text("Join your cohort")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_label("Invite code").fill(cohort.invite_code.lower())
    page.locator("main form").get_by_role("button", name="Join").click()

    expect(page).to_have_url(re.compile(r"/c/spring-2026/$"))
    expect(page.get_by_role("status")).to_contain_text("Welcome to Spring 2026!")
    expect(page.get_by_role("heading", level=1)).to_have_text("Spring 2026")
    roadmap = page.locator("ol.roadmap > li")
    expect(roadmap).to_have_count(3)
    for item, title in zip(roadmap.all(), titles, strict=True):
        expect(item).to_contain_text(title)
        expect(item.locator(".badge")).to_contain_text("Not started")
    current = page.locator("article.current-step")
    expect(current.get_by_role("heading", name="Current step")).to_be_visible()
    expect(current.get_by_role("link", name="Collaborate on GitHub")).to_be_visible()


def test_join_with_an_unknown_code_explains_and_stays_on_join(page: Page, sign_in):
    sign_in(page, UserFactory())
    page.goto("/join/")
    page.get_by_label("Invite code").fill("NOPE123456")
    page.locator("main form").get_by_role("button", name="Join").click()

    expect(page.locator("main")).to_contain_text("That invite code does not match any cohort")
    expect(page.get_by_role("heading", level=1)).to_have_text("Join your cohort")


def test_signup_without_next_ends_signed_in_on_join(page: Page):
    page.goto("/accounts/signup/")
    _sign_up(page, "direct@example.com")
    _confirm_from_email(page, "direct@example.com")

    expect(page.get_by_role("heading", level=1)).to_have_text("Join your cohort")


def test_sign_in_from_the_landing_page_shows_the_roadmap(page: Page, world, log_in):
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in").click()
    with page.expect_response(lambda r: r.request.method == "POST") as signed_in:
        log_in(page, world.alice.email)
    assert signed_in.value.status == 302, f"signing in answered {signed_in.value.status}"

    expect(page.get_by_role("heading", name="Roadmap")).to_be_visible()
