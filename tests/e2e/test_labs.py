"""A learner runs a lab from the hub, shares it with the cohort, and reads a model file in the GGUF inspector.

The sweep runs in a real Celery worker on the real quantized SmolLM2, kept small (one seed, four tokens).
Set E2E_SCREENSHOT_DIR to keep screenshots (labs-<stage>-<width>.png) for a human look.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from inference.models import LabJob

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LAB_TIMEOUT = 90_000  # ms: the first lab loads the model in the worker

SCREENSHOT_DIR = os.environ.get("E2E_SCREENSHOT_DIR")


def _screenshot(page: Page, stage: str) -> None:
    if SCREENSHOT_DIR:
        width = page.viewport_size["width"] if page.viewport_size else 0
        page.screenshot(path=Path(SCREENSHOT_DIR) / f"labs-{stage}-{width}.png", full_page=True)


def _assert_fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def test_sweep_from_the_hub_is_drawn_shared_and_opens_for_the_cohort(
    page: Page, new_page, world, smollm2, sign_in, celery_worker_process
):
    sign_in(page, world.alice)
    page.goto("/sandbox/")
    page.get_by_role("link", name="Open the labs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Labs")

    sweep = page.locator("#lab-sweep")
    sweep.get_by_label("Raw").check()
    sweep.get_by_label("Prompt", exact=True).fill("My favourite colour is")
    sweep.get_by_label("Temperatures").fill("0, 1, 1.5")
    sweep.get_by_label("Seeds").fill("1")
    sweep.get_by_label("Max tokens").fill("4")
    sweep.get_by_role("button", name="Run the sweep").click()

    status = sweep.get_by_role("status").first
    expect(status).to_have_text(re.compile(r"^Temperature sweep #\d+ is done\.$"), timeout=LAB_TIMEOUT)
    job = LabJob.objects.get()
    result = sweep.locator(".lab-result")
    expect(result.locator("table tbody tr")).to_have_count(3)
    expect(result.locator("table tbody tr").first).to_contain_text("1 of 1")
    expect(result.locator(".dist-group figcaption")).to_have_text(["T = 0", "T = 1", "T = 1.5"])
    # The same tokens, in the same order, in every group: the greedy token holds all the mass at T = 0.
    first_tokens = result.locator(".dist-group").evaluate_all(
        "groups => groups.map(g => g.querySelector('.bars li .tok').textContent)"
    )
    assert len(set(first_tokens)) == 1
    expect(result.locator(".dist-group").first.locator(".bar-value").first).to_have_text("100%")
    _screenshot(page, "sweep")

    result.get_by_role("button", name="Share with my cohort").click()
    expect(result.locator(".share-state")).to_have_text("Shared: members of your cohort can open this link.")
    link = result.get_by_label("Link to this lab")
    expect(link).to_have_value(re.compile(rf"/sandbox/labs/{job.pk}/$"))
    job.refresh_from_db()
    assert job.shared

    bob = new_page(viewport=PHONE)
    sign_in(bob, world.bob)
    bob.goto(link.input_value())
    expect(bob.get_by_role("heading", level=1)).to_have_text("Temperature sweep")
    expect(bob.locator(".share-state")).to_have_text("Shared by Alice with the cohort.")
    expect(bob.locator("#lab-result table tbody tr")).to_have_count(3)
    expect(bob.get_by_role("button", name="Share with my cohort")).to_have_count(0)
    _assert_fits(bob)
    _screenshot(bob, "sweep-shared")


def test_inspector_shows_every_tensor_and_the_safetensors_comparison(new_page, world, smollm2, sign_in):
    for viewport in ({"width": 1280, "height": 900}, PHONE):
        page = new_page(viewport=viewport)
        sign_in(page, world.alice)
        page.goto("/sandbox/labs/")
        page.get_by_role("link", name="GGUF inspector").click()

        expect(page.get_by_role("heading", level=1)).to_have_text(smollm2.name)
        rows = page.locator("#tensor-table tbody tr")
        expect(rows).to_have_count(272)
        expect(page.locator("#tensor-count")).to_have_text("272 tensors")
        expect(page.locator(".size-bars li")).to_have_count(3)
        expect(page.locator("pre.template")).to_contain_text("<|im_start|>")
        _assert_fits(page)
        _screenshot(page, "inspector")

        page.get_by_label("Filter by name or type").fill("blk.0.")
        expect(page.locator("#tensor-count")).to_have_text("9 of 272 tensors")
        expect(page.locator("#tensor-table tbody tr:visible")).to_have_count(9)
