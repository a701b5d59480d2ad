"""A learner watches their pull request's page while GitHub reports on it: everything follows without a reload."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from exercises.deliveries import delivery_process
from exercises.models import CompletionRule, Exercise, Submission, WebhookDelivery
from tests.exercises import payloads

pytestmark = pytest.mark.e2e


def _deliver(event: str, payload: dict, delivery_id: str) -> None:
    # Stored without publishing a task: a real worker left running by another test must not
    # write to the same SQLite file at the same moment.
    delivery = WebhookDelivery.objects.create(
        hook_id="42", delivery_id=delivery_id, event=event, action=payload["action"], payload=payload
    )
    delivery_process(delivery_id=delivery.pk)


def test_submission_page_follows_reviews_timeline_and_merge_while_open(page: Page, world, sign_in, settings):
    settings.GITHUB_TOKEN = ""
    world.alice.github_username, world.alice.github_confirmed_at = "gh-alice", timezone.now()
    world.alice.save()
    world.cohort.practice_repository = payloads.REPO
    world.cohort.save()
    Exercise.objects.create(
        cohort=world.cohort, step=world.steps[0], title="Open your first pull request", slug="first-pr",
        completion_rule=CompletionRule.MERGED,
    )  # fmt: skip
    _deliver("pull_request", payloads.pr_event("opened", mergeable_state="dirty"), "d1")
    submission = Submission.objects.get()

    sign_in(page, world.alice)
    page.goto(f"/c/{world.cohort.slug}/submissions/{submission.pk}/")
    live = page.locator("#submission-live")
    expect(live).to_contain_text("merge conflict")
    page.evaluate("window.__sameDocument = true")

    _deliver("pull_request_review", payloads.review_event(state="changes_requested", review_id=1), "d2")
    _deliver(
        "pull_request",
        payloads.pr_event("closed", state="closed", merged=True, mergeable_state="unknown",
                          updated_at="2026-03-10T14:00:00Z"),
        "d3",
    )  # fmt: skip

    # The page polls every 10 s.
    expect(live.locator(".timeline")).to_contain_text("Merged the pull request", timeout=15_000)
    expect(live.locator(".timeline")).to_contain_text("Requested changes")
    expect(live.locator(".state-box")).to_contain_text("Merged")
    expect(live.locator(".state-box")).to_contain_text("Exercise done")
    expect(live.locator(".big-number").first).to_have_text("1")
    expect(live.locator(".state-box")).not_to_contain_text("merge conflict")
    expect(live.locator(".timeline")).to_contain_text("Merged: the conflict is over")
    assert page.evaluate("window.__sameDocument") is True
