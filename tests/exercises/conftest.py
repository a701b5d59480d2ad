from __future__ import annotations

import itertools

import pytest
from django.utils import timezone

from exercises.models import CompletionRule, Exercise
from tests.exercises import payloads

_delivery_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _webhook_secret(settings):
    settings.GITHUB_WEBHOOK_SECRETS = ["old-secret", payloads.SECRET]
    settings.GITHUB_TOKEN = ""


@pytest.fixture
def exercise(world):
    # A lead confirmed it (GitHub sign-in is not configured in tests): PRs by @gh-alice count.
    world.alice.github_username = "gh-alice"
    world.alice.github_confirmed_at = timezone.now()
    world.alice.save()
    world.cohort.practice_repository = payloads.REPO
    world.cohort.save()
    return Exercise.objects.create(
        cohort=world.cohort,
        step=world.steps[0],
        title="Open your first pull request",
        slug="first-pr",
        completion_rule=CompletionRule.MERGED,
    )


@pytest.fixture
def post_event(client):
    """POST a signed delivery to the webhook; returns the response."""

    def post(
        event: str, payload: dict, *, delivery: str | None = None, hook_id: str = "42", secret: str = payloads.SECRET
    ):
        body = payloads.encode(payload)
        headers = payloads.signed_headers(
            body, event=event, delivery=delivery or f"delivery-{next(_delivery_ids)}", hook_id=hook_id, secret=secret
        )
        return client.post("/webhooks/github/", data=body, content_type="application/json", **headers)

    return post
