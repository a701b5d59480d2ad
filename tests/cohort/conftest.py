"""Browser fixtures for the office-hours journeys in this folder.

`chromium` is module-scoped: each browser test module starts and stops its own
Playwright. The session-wide fixtures in tests/e2e/conftest.py are not visible
here, and a second Playwright started next to them in the same thread would fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page, sync_playwright

from cohort.models import User
from tests.conftest import skip_or_fail_in_ci

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        skip_or_fail_in_ci(f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium")
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
