"""A learner signs in, follows the roadmap and says which step they are working on."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_learner_signs_in_and_focuses_a_step_without_a_reload(page: Page, world, log_in):
    second = world.steps[1]

    page.goto(f"/c/{world.cohort.slug}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/c/cohort-a/$"))
    log_in(page, world.alice.email)

    expect(page.get_by_role("heading", level=1)).to_have_text(world.cohort.name)
    roadmap = page.locator("ol.roadmap")
    for step in world.steps:
        expect(roadmap).to_contain_text(step.title)
    expect(page.locator("article.current-step")).to_contain_text(world.steps[0].title)

    roadmap.get_by_role("link", name=re.compile(re.escape(second.title))).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(second.title)
    page.wait_for_load_state()  # htmx binds hx-post once the deferred script has run
    focus = page.locator("#step-focus")
    expect(focus.locator(".badge")).to_have_text("Not started")

    # A full reload would drop this marker; an htmx swap keeps the document.
    page.evaluate("window.__sameDocument = true")
    focus.get_by_role("button", name="I'm working on this").click()

    expect(focus.locator(".badge")).to_have_text("In progress · current step")
    expect(focus.get_by_role("button")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True

    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=world.cohort.name).click()
    expect(page.locator("article.current-step")).to_contain_text(second.title)
    expect(page.locator("ol.roadmap > li.is-current")).to_contain_text("In progress · current")


@pytest.mark.parametrize("path", ["/c/{slug}/", "/c/{slug}/steps/step-1/", "/c/{slug}/lead/"])
def test_learner_gets_404_for_another_cohorts_pages(page: Page, world, sign_in, path):
    other = world.outsider.memberships.get().cohort
    sign_in(page, world.alice)

    response = page.goto(path.format(slug=other.slug))

    assert response is not None
    assert response.status == 404
    expect(page.locator("h1")).to_contain_text(re.compile("not found", re.IGNORECASE))
    expect(page.locator("body")).not_to_contain_text(other.name)
