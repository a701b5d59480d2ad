"""A lead follows the cohort on the learners x steps overview."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from cohort import services

pytestmark = pytest.mark.e2e


def test_lead_sees_the_matrix_and_search_filters_it_in_place(page: Page, world, log_in):
    services.progress_focus_step(membership=world.alice_membership, step=world.steps[0])

    page.goto(f"/c/{world.cohort.slug}/lead/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/c/cohort-a/lead/$"))
    log_in(page, world.lead.email)

    expect(page.get_by_role("heading", level=1)).to_have_text(world.cohort.name)
    matrix = page.locator("#overview-table table.matrix")
    header = matrix.locator("thead th")
    expect(header).to_have_text(
        ["Learner", *[f"{s.code} 0 done" for s in world.steps], "Current step", "Last activity"], use_inner_text=True
    )
    rows = matrix.locator("tbody tr")
    expect(rows).to_have_count(2)
    alice = rows.filter(has_text="Alice")
    expect(alice.locator("td.cell")).to_have_text(["In progress", "Not started", "Not started"])
    expect(rows.filter(has_text="Bob").locator("td.cell")).to_have_text(["Not started"] * 3)

    page.wait_for_load_state()  # htmx binds the search box once the deferred script has run
    page.evaluate("window.__sameDocument = true")
    page.locator("#q").press_sequentially("bob")

    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Bob")
    expect(page).to_have_url(re.compile(r"[?&]q=bob"))

    page.locator("#q").fill("nobody-here")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_text("No learner matches “nobody-here”.")
    assert page.evaluate("window.__sameDocument") is True
