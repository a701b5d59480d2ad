"""Keyboard journeys (issue 18): the sandbox and the help queue with Tab, Enter and Escape only; each lab result.

Both also run axe in the states a mouse test does not reach: the sandbox after a run with a token's
alternatives open, the help queue with a learner waiting and a lead helping.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from cohort.models import SessionStatus
from cohort.office_hours import services as office_hours
from inference.models import LabJob
from tests.e2e.axe import assert_no_axe_violations, assert_no_csp_violations, watch_csp
from tests.factories import SessionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
NARROW = {"width": 320, "height": 800}
RUN_TIMEOUT = 90_000  # ms: the first run loads the model in the worker


def _tab_to(page: Page, selector: str, *, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    target = page.locator(selector)
    for _ in range(limit):
        if target.evaluate("(el) => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} not reached with {limit} Tabs")


def _focused(page: Page) -> str:
    return page.evaluate("document.activeElement ? (document.activeElement.id || document.activeElement.tagName) : ''")


def test_sandbox_by_keyboard_run_output_and_alternatives(new_page, world, smollm2, sign_in, celery_worker_process):
    page = new_page(viewport=DESKTOP)
    watch_csp(page.context)
    sign_in(page, world.alice)
    page.goto("/sandbox/")
    expect(page.locator("#sb-prompt-count")).to_have_text(re.compile(r"^\d+ tokens"))
    page.get_by_label("Max tokens").fill("8")

    # Tab to Run and press Enter: the focus stays on something useful (Cancel, then the output), not <body>.
    _tab_to(page, "#sb-run")
    page.keyboard.press("Enter")
    expect(page.locator("#sb-status")).to_have_text(re.compile(r"Run #\d+ done: \d+ tokens?"), timeout=RUN_TIMEOUT)
    expect(page.locator("#sb-output-heading")).to_be_focused()

    # From the output, Tab reaches the tokens; Enter opens a token's alternatives, Escape closes them.
    _tab_to(page, "#sb-output-tokens .chip >> nth=0")
    chip = page.evaluate_handle("document.activeElement")
    page.keyboard.press("Enter")
    panel = page.locator("#sb-token-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#sb-token-heading")).to_be_focused()
    assert_no_axe_violations(page, "sandbox after a run, alternatives open")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert chip.evaluate("(el) => el === document.activeElement"), f"focus on {_focused(page)}, not the token"
    page.keyboard.press("Enter")
    expect(panel).to_be_visible()

    page.set_viewport_size(NARROW)
    assert_no_axe_violations(page, "sandbox after a run, alternatives open")
    assert_no_csp_violations(page)


def test_help_queue_by_keyboard_join_and_take(new_page, world, sign_in):
    session = SessionFactory(cohort=world.cohort, number=1, title="Live help")
    session.leads.set([world.lead])
    office_hours.session_set_status(session=session, status=SessionStatus.LIVE)
    url = f"/c/{world.cohort.slug}/sessions/{session.number}/"

    learner = new_page(viewport=DESKTOP)
    watch_csp(learner.context)
    sign_in(learner, world.alice)
    learner.goto(url)
    learner.wait_for_load_state()
    description = learner.locator("#help-queue").get_by_label("What are you stuck on?")
    expect(description).to_be_visible()

    # Tab into the form, type, Tab to the button, Enter: the learner is in the queue.
    _tab_to(learner, "#help-queue [name=description]")
    learner.keyboard.type("My tokenizer splits emoji into bytes")
    _tab_to(learner, "#help-queue button[type=submit]")
    learner.keyboard.press("Enter")
    expect(learner.locator(".queue-position")).to_have_text("You are number 1 in the queue")
    assert_no_axe_violations(learner, "session page, learner waiting")

    # The lead takes the request with the keyboard.
    lead = new_page(viewport=DESKTOP)
    watch_csp(lead.context)
    sign_in(lead, world.lead)
    lead.goto(url)
    lead.wait_for_load_state()
    take = lead.locator("#help-queue").get_by_role("button", name=re.compile(r"^Take"))
    expect(take).to_be_visible()
    _tab_to(lead, "#help-queue button:text-matches('^Take')")
    lead.keyboard.press("Enter")
    expect(lead.locator("#help-queue").get_by_role("button", name=re.compile(r"^Done"))).to_be_visible()
    assert_no_axe_violations(lead, "session page, lead helping")
    expect(learner.locator(".queue-position")).to_have_text("A lead is helping you now", timeout=5_000)
    assert_no_axe_violations(learner, "session page, learner being helped")

    for page in (learner, lead):
        page.set_viewport_size(NARROW)
        assert_no_axe_violations(page, "session page at 320 px")
        assert_no_csp_violations(page)


def _lab(page: Page, section: str, button: str, name: str) -> None:
    lab = page.locator(section)
    lab.get_by_role("button", name=button).click()
    expect(lab.locator(".lab-status")).to_have_text(re.compile(rf"^{name} #\d+ is done\.$"), timeout=RUN_TIMEOUT)
    expect(lab.locator(".lab-result")).not_to_be_empty()


def test_each_lab_result_passes_axe(new_page, world, smollm2, sign_in, celery_worker_process, settings):
    settings.SANDBOX_RUNS_PER_MINUTE = 100
    settings.SANDBOX_CONCURRENT_RUNS = 10
    page = new_page(viewport=DESKTOP)
    watch_csp(page.context)
    sign_in(page, world.alice)
    # A finished run for the pipeline lab to pick.
    page.goto("/sandbox/")
    expect(page.locator("#sb-prompt-count")).to_have_text(re.compile(r"^\d+ tokens"))
    page.get_by_label("Max tokens").fill("4")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#sb-status")).to_have_text(re.compile(r"Run #\d+ done"), timeout=RUN_TIMEOUT)

    page.goto("/sandbox/labs/")
    sweep = page.locator("#lab-sweep")
    sweep.get_by_label("Seeds").fill("1")
    sweep.get_by_label("Max tokens").fill("4")
    _lab(page, "#lab-sweep", "Run the sweep", "Temperature sweep")
    page.locator("#lab-speculative").get_by_label("Max tokens").fill("8")
    _lab(page, "#lab-speculative", "Decode", "Speculative decoding")
    _lab(page, "#lab-pipeline", "Show the pipeline", "Sampler pipeline")
    # Quantization, kept small: one variant (Q8_0) of the shipped model.
    for box in page.locator("#lab-quantization input[name=types]").all():
        box.set_checked(box.get_attribute("value") == "Q8_0")
    _lab(page, "#lab-quantization", "Compare", "Quantization")
    # It says which variant is the reference and where each came from (issue 15's vocabulary).
    result = page.locator("#lab-quantization .lab-result")
    expect(result).to_contain_text("The reference is Q8_0, the variant with the most bits per weight.")
    expect(result.locator("tbody tr")).to_contain_text(["made from the Q4_1 file", "the installed file"])

    for viewport in (DESKTOP, NARROW):
        page.set_viewport_size(viewport)
        assert_no_axe_violations(page, "labs with the sweep, speculative, pipeline and quantization results")
    assert_no_csp_violations(page)

    # Each lab's own page, and the model inspector.
    for job in LabJob.objects.filter(membership=world.alice_membership).order_by("pk"):
        page.goto(f"/sandbox/labs/{job.pk}/")
        expect(page.locator("#lab-result")).not_to_be_empty(timeout=RUN_TIMEOUT)
        for viewport in (DESKTOP, NARROW):
            page.set_viewport_size(viewport)
            assert_no_axe_violations(page, f"lab page {job.kind}")
    page.goto(f"/sandbox/models/{smollm2.slug}/inspect/")
    for viewport in (DESKTOP, NARROW):
        page.set_viewport_size(viewport)
        assert_no_axe_violations(page, "model inspector")
    assert_no_csp_violations(page)
