"""A learner uses the inference sandbox: the prompt as tokens, reproducible runs, the alternatives behind a token.

Runs go through a real Celery worker and the real quantized SmolLM2. Set E2E_SCREENSHOT_DIR to keep
screenshots (sandbox-<stage>-<width>.png) for a human look.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from inference.models import SandboxModel, SandboxRun

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
RUN_TIMEOUT = 90_000  # ms: the first run loads the model in the worker

SCREENSHOT_DIR = os.environ.get("E2E_SCREENSHOT_DIR")


def _screenshot(page: Page, stage: str) -> None:
    if SCREENSHOT_DIR:
        width = page.viewport_size["width"] if page.viewport_size else 0
        page.screenshot(path=Path(SCREENSHOT_DIR) / f"sandbox-{stage}-{width}.png", full_page=True)


def _assert_fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the sandbox is {overflow}px wider than the screen"


def _open_sandbox(page: Page) -> None:
    page.goto("/sandbox/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sandbox")
    # The module script has run once the prompt view shows the default chat's tokens.
    expect(page.locator("#sb-prompt-count")).to_have_text(re.compile(r"^\d+ tokens"))


def _run(page: Page, button: str = "Run") -> int:
    """Start a run with `button`, wait until the page says it is done, return its id."""
    shown = page.locator("#sb-output-run")
    before = shown.text_content() or ""
    page.get_by_role("button", name=button, exact=True).click()
    expect(shown).not_to_have_text(before)
    run_id = int(re.search(r"#(\d+)", shown.text_content() or "").group(1))
    expect(page.locator("#sb-status")).to_have_text(
        re.compile(rf"Run #{run_id} done: \d+ tokens?"), timeout=RUN_TIMEOUT
    )
    return run_id


def _output(page: Page) -> str:
    return page.locator("#sb-output-tokens").inner_text()


def test_sandbox_shows_the_prompt_as_tokens_and_reports_template_errors(page: Page, world, smollm2, sign_in):
    # The same weights flagged as a thinking model: enough for the page's switch and presets.
    SandboxModel.objects.create(
        **{
            f.name: getattr(smollm2, f.name)
            for f in SandboxModel._meta.concrete_fields
            if f.name not in ("id", "added_at")
        }
        | {"slug": "thinking-twin", "name": "Thinking twin", "supports_thinking": True}
    )
    sign_in(page, world.alice)

    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sandbox").click()
    _open_sandbox(page)

    rendered = page.locator("#sb-rendered")
    expect(rendered).to_contain_text("What is the capital of France?")
    expect(rendered.locator("mark.special-token").first).to_have_text("<|im_start|>")
    special_chip = page.locator("#sb-prompt-tokens .chip.special").first
    expect(special_chip).to_have_attribute("title", re.compile(r"^id \d+ · special token$"))
    thinking = page.get_by_role("switch", name="Thinking")
    expect(thinking).to_be_hidden()  # SmolLM2 has no thinking mode

    # A model with a thinking mode gets the switch, and its presets follow it.
    page.get_by_label("Model", exact=True).select_option("thinking-twin")
    expect(thinking).to_be_checked()
    expect(page.get_by_label("Temperature")).to_have_value("0.6")
    expect(page.get_by_role("button", name="Qwen3 thinking")).to_have_attribute("aria-pressed", "true")
    thinking.uncheck()
    expect(page.get_by_label("Temperature")).to_have_value("0.7")
    expect(page.get_by_role("button", name="Qwen3 non-thinking")).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Model", exact=True).select_option("smollm2-135m")
    expect(thinking).to_be_hidden()

    # One tab stop for the token list; arrow keys move inside it and name each token.
    first_chip = page.locator("#sb-prompt-tokens .chip").first
    first_chip.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#sb-prompt-tokens .chip").nth(1)).to_be_focused()
    expect(page.locator("#sb-prompt-readout")).to_have_text(re.compile(r"^Prompt token 2 of \d+: .*, id \d+"))

    page.locator("#sb-content-1").fill("Name three rivers.")
    expect(rendered).to_contain_text("Name three rivers.")
    page.get_by_role("button", name="Add message").click()
    expect(page.get_by_label("Role of message 3")).to_have_value("assistant")
    page.get_by_role("button", name="Remove message 3").click()
    expect(page.locator("#sb-messages > li")).to_have_count(2)

    page.locator("#sb-template-details summary").click()
    template = page.get_by_label("Jinja template")
    template.fill("{% for m in messages %}\n{{ m.content }\n{% endfor %}")
    error = page.locator("#sb-error-template")
    expect(error).to_have_text(re.compile(r"^Line \d+: "))
    expect(template).to_have_attribute("aria-invalid", "true")
    template.fill("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}")
    expect(error).to_be_hidden()
    expect(rendered).to_have_text("[system] You are a helpful assistant.\n[user] Name three rivers.\n")
    template.fill("")

    page.get_by_label("Raw prompt").check()
    page.get_by_label("Prompt", exact=True).fill("Hello <|im_start|>")
    # Raw text is tokenized with special=false: the control token's characters stay plain text.
    expect(rendered).to_have_text("Hello <|im_start|>")
    expect(rendered.locator("mark")).to_have_count(0)
    expect(page.locator("#sb-prompt-tokens .chip.special")).to_have_count(0)

    page.get_by_role("button", name="Greedy").click()
    expect(page.get_by_label("Temperature")).to_have_value("0")
    expect(page.get_by_role("button", name="Greedy")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Model default").click()
    expect(page.get_by_label("Temperature")).to_have_value("0.8")
    page.get_by_role("button", name="New seed").click()
    seed = int(page.get_by_label("Seed").input_value())
    assert 0 <= seed <= 2**31 - 2

    # The server's validation lands next to the field, which gets the focus.
    page.get_by_label("Temperature").fill("5")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#sb-error-temperature")).to_have_text("Ensure this value is less than or equal to 2.")
    expect(page.get_by_label("Temperature")).to_be_focused()
    expect(page.locator("#sb-run-error")).to_have_text("Invalid parameters. Check Temperature.")
    assert not SandboxRun.objects.exists()
    _screenshot(page, "prompt")


def test_sandbox_runs_reproduce_with_a_seed_and_show_the_alternatives(
    new_page, world, smollm2, sign_in, celery_worker_process, settings
):
    settings.SANDBOX_RUNS_PER_MINUTE = 100
    settings.SANDBOX_CONCURRENT_RUNS = 10
    page = new_page(viewport=DESKTOP)
    sign_in(page, world.alice)
    _open_sandbox(page)
    expect(page.locator("#sb-history-empty")).to_be_visible()

    # Greedy decoding: the same prompt gives the same text, and the page says so.
    page.get_by_label("Temperature").fill("0")
    page.get_by_label("Max tokens").fill("16")
    first = _run(page)
    expect(page.locator("#sb-seed-help")).to_contain_text(
        f"The server picked seed {SandboxRun.objects.get(pk=first).seed}"
    )
    first_output = _output(page)
    assert first_output
    expect(page.locator("#sb-details")).to_contain_text("tokens/s")

    second = _run(page, "Run again with the same seed")
    expect(page.locator("#sb-comparison")).to_contain_text(f"Same output as run #{first}.")
    assert _output(page) == first_output
    a, b = SandboxRun.objects.get(pk=first), SandboxRun.objects.get(pk=second)
    assert a.seed == b.seed and a.output_text == b.output_text

    # Hot sampling: another seed, another text.
    page.get_by_label("Raw prompt").check()
    page.get_by_label("Prompt", exact=True).fill("Once upon a time")
    page.get_by_label("Temperature").fill("1.5")
    page.get_by_label("Seed").fill("1")
    seed_one = _run(page)
    seed_one_output = _output(page)
    page.get_by_label("Seed").fill("2")
    seed_two = _run(page)
    comparison = page.locator("#sb-comparison")
    expect(comparison).to_contain_text(f"Different output from run #{seed_one}.")
    expect(comparison).to_contain_text("seed 1 → 2")
    assert _output(page) != seed_one_output
    assert SandboxRun.objects.get(pk=seed_one).output_text != SandboxRun.objects.get(pk=seed_two).output_text

    # A token's alternatives: the model's distribution, then what sampling left, the chosen token marked.
    chip = page.locator("#sb-output-tokens .chip").first
    chip.click()
    panel = page.get_by_role("region", name=re.compile(r"^Token 1: "))
    expect(panel).to_be_visible()
    expect(page.locator("#sb-token-heading")).to_be_focused()
    before, after = panel.locator("#sb-bars-model"), panel.locator("#sb-bars-sampled")
    expect(before.locator("figcaption")).to_contain_text("Before sampling")
    expect(after.locator("figcaption")).to_contain_text("After sampling")
    expect(before.locator(".bars li")).to_have_count(10)
    expect(before.locator(".bars li.chosen")).to_have_count(1)
    expect(after.locator(".bars li.chosen")).to_have_count(1)
    expect(before.locator(".bar-value").first).to_have_text(re.compile(r"^\d+(\.\d+)?%$"))
    _screenshot(page, "run")
    _assert_fits(page)

    # Keyboard: Escape closes the panel back onto the token, Enter opens it again.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(chip).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel).to_be_visible()

    # Colouring by the model's probability instead of the sampled one.
    page.get_by_label("Before sampling").check()
    expect(page.locator("#sb-legend-title")).to_contain_text("before sampling")

    # History: refreshed after each run; an older run loads back into the output view.
    history = page.locator("#sb-history > li")
    expect(history).to_have_count(4)
    page.locator(f'#sb-history [data-run="{first}"]').click()
    expect(page.locator("#sb-output-run")).to_have_text(f"· run #{first}")
    expect(page.locator("#sb-output-heading")).to_be_focused()
    assert _output(page) == first_output
    temperature = page.locator("#sb-details-list > div").filter(has=page.locator("dt", has_text="Temperature"))
    expect(temperature.locator("dd")).to_have_text("0")

    # The same page on a phone: a stored run with its alternatives, nothing spilling sideways.
    phone = new_page(viewport=PHONE)
    sign_in(phone, world.alice)
    _open_sandbox(phone)
    _assert_fits(phone)
    _screenshot(phone, "prompt")
    phone.locator(f'#sb-history [data-run="{seed_two}"]').click()
    phone.locator("#sb-output-tokens .chip").nth(2).click()
    expect(phone.locator("#sb-token-panel")).to_be_visible()
    _screenshot(phone, "run")
    _assert_fits(phone)
