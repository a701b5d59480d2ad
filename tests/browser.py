"""The browser fixtures, one set for the whole suite (a pytest plugin listed in tests/conftest.py).

One headless Debian Chromium per test session, a fresh context (cookies, storage)
per page. Every browser test, in tests/e2e or next to the feature it covers,
uses these; a second Playwright started beside them in the same thread would fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page, expect, sync_playwright

from cohort.models import User
from tests.factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# A CI machine under load can take a few seconds for the first page.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from tests.conftest import skip_or_fail_in_ci

    # Every browser test needs this fixture, so one check skips them all with the reason
    # (a skip at import would abort `pytest tests/e2e` instead).
    if not CHROMIUM.exists():
        skip_or_fail_in_ci(f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium")
    # Playwright's sync API keeps an event loop running in this thread for as long as the
    # browser is up, so Django would refuse the still synchronous ORM calls tests make to
    # arrange data. Allowed for the browser's lifetime only.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser: Browser, live_server) -> Iterator[Callable[..., Page]]:  # type: ignore[no-untyped-def]
    """Open pages in fresh browser contexts against the live server: `new_page(viewport={"width": 390, ...})`."""
    contexts = []

    def open_page(viewport: dict[str, int] | None = None) -> Page:
        context = browser.new_context(base_url=live_server.url, viewport=viewport or {"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


@pytest.fixture
def sign_in(live_server) -> Callable[[Page, User], None]:  # type: ignore[no-untyped-def]
    """Give a page a signed-in session without the login form (for tests whose journey starts signed in)."""

    def add_session(page: Page, user: User) -> None:
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        session_id = client.cookies[settings.SESSION_COOKIE_NAME].value
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_id, "url": live_server.url}])

    return add_session


@pytest.fixture
def page_for(new_page: Callable[..., Page], sign_in: Callable[[Page, User], None]) -> Callable[[User], Page]:
    """A signed-in page per user, each in its own browser context (several people in one test)."""

    def open_page(user: User) -> Page:
        page = new_page()
        sign_in(page, user)
        return page

    return open_page


@pytest.fixture
def log_in() -> Callable[..., None]:
    """Fill in and send the sign-in form the page shows."""

    def submit(page: Page, email: str, password: str = PASSWORD) -> None:
        form = page.locator("main form")
        form.locator("input[name=login]").fill(email)
        form.locator("input[name=password]").fill(password)
        form.get_by_role("button", name="Sign in").click()

    return submit
