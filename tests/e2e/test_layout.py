"""The main pages fit a laptop and a phone screen: nothing spills sideways.

Set E2E_SCREENSHOT_DIR to keep full-page screenshots (e2e-<page>-<width>.png) for a human look.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cohort.demo.roadmap import LEAD_EMAIL, LEARNERS, seed_demo
from cohort.models import User

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

SCREENSHOT_DIR = os.environ.get("E2E_SCREENSHOT_DIR")


def _check(page: Page, name: str, viewport: dict[str, int]) -> None:
    # The stylesheet was served and parsed, so the page is not falling back to browser defaults.
    assert page.evaluate(
        "[...document.styleSheets].some(s => (s.href || '').endsWith('/css/app.css') && s.cssRules.length > 0)"
    )
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if SCREENSHOT_DIR:
        page.screenshot(path=Path(SCREENSHOT_DIR) / f"e2e-{name}-{viewport['width']}.png", full_page=True)
    assert overflow <= 0, f"{name} is {overflow}px wider than a {viewport['width']}px screen"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_main_pages_fit_the_screen(new_page, sign_in, viewport):
    cohort = seed_demo()
    learner = User.objects.get(email=LEARNERS[0][0])
    step = cohort.steps.order_by("position")[1]

    anonymous = new_page(viewport=viewport)
    anonymous.goto("/accounts/login/")
    _check(anonymous, "login", viewport)

    page = new_page(viewport=viewport)
    sign_in(page, learner)
    page.goto("/")
    expect(page.get_by_role("heading", name="Roadmap")).to_be_visible()
    _check(page, "dashboard", viewport)
    page.goto(f"/c/{cohort.slug}/steps/{step.slug}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(step.title)
    _check(page, "step", viewport)

    lead_page = new_page(viewport=viewport)
    sign_in(lead_page, User.objects.get(email=LEAD_EMAIL))
    lead_page.goto(f"/c/{cohort.slug}/lead/")
    expect(lead_page.locator("table.matrix")).to_be_visible()
    _check(lead_page, "lead-overview", viewport)
