"""Office hours in a real Chromium: questions and votes through htmx, recap diagrams drawn by mermaid.

The browser fixtures (`page_for`) come from tests/browser.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cohort.models import QuestionVote, SessionQuestion
from tests.factories import SessionFactory, TopicFactory

pytestmark = pytest.mark.e2e


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
