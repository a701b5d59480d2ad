"""Office hours in a real Chromium: questions and votes through htmx, recap diagrams drawn by mermaid.

The browser fixtures are this module's own, started and stopped with it: the
session-wide ones in tests/e2e/conftest.py are not visible here, and a second
Playwright started next to them in the same thread would fail.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect, sync_playwright

from cohort.models import QuestionVote, SessionQuestion, User
from tests.cohort.test_office_hours import SessionFactory, TopicFactory

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium")
    # Playwright's sync API keeps an event loop running in this thread; the tests still arrange data with the ORM.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page_for(chromium: Browser, live_server) -> Iterator[Callable[[User], Page]]:  # type: ignore[no-untyped-def]
    """A signed-in page per user, each in its own browser context."""
    contexts = []

    def open_page(user: User) -> Page:
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


RECAP = """How a pull request travels:

```mermaid
flowchart TD
    A["Create a branch"] --> B["Open a pull request"]
    B --> C{Approved?}
    C -- Yes --> D["Merge into main"]
```

And speculative decoding:

```mermaid
flowchart LR
    A["Draft model"] --> B["Target model"]
    B --> C["<img src=x onerror='window.__pwned = 1'>Accept"]
    click A "javascript:window.__pwned = 2"
```
"""


def test_learners_ask_and_upvote_without_a_reload(page_for, world):
    session = SessionFactory(cohort=world.cohort, number=1, starts_at=timezone.now() + dt.timedelta(days=1))
    alice, bob = page_for(world.alice), page_for(world.bob)
    alice.goto("/c/cohort-a/sessions/1/")
    alice.wait_for_load_state()  # htmx binds hx-post once the deferred script has run
    alice.evaluate("window.__sameDocument = true")

    # The browser refuses an empty required field; without that check the server's 400 must still be swapped in.
    alice.get_by_label("Your question").evaluate("field => field.removeAttribute('required')")
    alice.get_by_role("button", name="Ask").click()
    expect(alice.locator("#questions")).to_contain_text("Write your question first.")
    alice.get_by_label("Your question").fill("Why does temperature 0 repeat itself?")
    alice.get_by_role("button", name="Ask").click()
    expect(alice.locator(".question-list")).to_contain_text("Why does temperature 0 repeat itself?")
    assert alice.evaluate("window.__sameDocument") is True

    bob.goto("/c/cohort-a/sessions/1/")
    bob.wait_for_load_state()
    vote = bob.locator(".question-list li", has_text="temperature 0").locator("button.vote-button")
    vote.click()
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(vote).to_contain_text("1")
    vote.click()
    expect(vote).to_have_attribute("aria-pressed", "false")
    expect(vote).to_contain_text("0")

    assert SessionQuestion.objects.filter(session=session, author=world.alice_membership).count() == 1
    assert not QuestionVote.objects.exists()


def test_recap_page_draws_diagrams_and_runs_no_script_from_them(page_for, world):
    session = SessionFactory(cohort=world.cohort, number=1, recap_markdown=RECAP, recap_published_at=timezone.now())
    TopicFactory(session=session, position=1, title="GitHub collaboration", step=world.steps[0])
    page = page_for(world.alice)

    page.goto("/c/cohort-a/sessions/1/recap/")

    diagrams = page.locator(".recap pre.mermaid svg")
    expect(diagrams).to_have_count(2)
    expect(diagrams.first).to_contain_text("Merge into main")
    page.locator(".recap pre.mermaid").nth(1).locator(".node").first.click()
    assert page.evaluate("window.__pwned") is None
    expect(page.locator("aside")).to_contain_text("GitHub collaboration")
