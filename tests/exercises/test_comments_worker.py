"""Comments through a real worker while GitHub is down, failing, rate limiting, then back.

The worker was started with GITHUB_API_URL pointing at tests/fake_github.PORT and
GITHUB_COMMENT_RETRY_SECONDS=1 (tests/worker.py), so its backoff runs in seconds.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from exercises.models import CommentKind, CommentStatus, PullRequestComment, Submission
from exercises.notify import comments_sweep
from tests import fake_github
from tests.exercises import payloads
from tests.fake_github import FakeGitHub, Reply
from tests.worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def github_down(settings):
    """GitHub as the worker sees it, not started yet: connections are refused until the test starts it."""
    settings.GITHUB_API_URL = fake_github.URL
    settings.GITHUB_TOKEN = fake_github.TOKEN
    fake = FakeGitHub(port=fake_github.PORT)
    yield fake
    fake.stop()


def _comment(kind: str = CommentKind.LINKED) -> PullRequestComment | None:
    return PullRequestComment.objects.filter(kind=kind).first()


def test_link_comment_survives_an_outage_then_errors_then_is_posted_once(
    celery_worker_process, exercise, post_event, github_down
):
    assert post_event("pull_request", payloads.pr_event("opened")).status_code == 202
    # Down: the worker's first attempts are refused connections.
    wait_for(lambda: (c := _comment()) and c.attempts >= 2, timeout=30, message="two refused attempts")
    assert _comment().status == CommentStatus.PENDING and "unreachable" in _comment().error

    # Back, but answering 500, then a secondary rate limit with Retry-After, then accepting.
    github_down.fail_with(
        Reply(500, body={"message": "Server Error"}),
        Reply(403, headers={"Retry-After": "1"}, body={"message": "You have exceeded a secondary rate limit."}),
    )
    github_down.start()
    wait_for(lambda: _comment().status == CommentStatus.POSTED, timeout=60, message="comment posted")

    time.sleep(2)  # any duplicate attempt would land now
    assert len(github_down.posted) == 1
    assert github_down.attempts == 3
    assert Submission.objects.get().linked_comment_at is not None
    assert _comment().attempts >= 5


def test_sweep_posts_a_comment_left_over_from_an_outage_exactly_once(
    celery_worker_process, exercise, world, github_down
):
    submission = Submission.objects.create(
        membership=world.alice_membership, exercise=exercise, repository=payloads.REPO, pr_number=31,
        pr_url=f"https://github.com/{payloads.REPO}/pull/31", author_login="gh-alice",
    )  # fmt: skip
    # What an outage longer than the task's own retries leaves behind: due, and no task for it.
    PullRequestComment.objects.create(
        submission=submission, kind=CommentKind.COMPLETED, next_attempt_at=timezone.now() - timedelta(minutes=3),
        attempts=7, error="Attempt 7: GitHub answered 502",
    )  # fmt: skip
    github_down.start()

    assert comments_sweep() == 1
    assert comments_sweep() == 1  # a second beat before the worker got to it: still one comment
    wait_for(lambda: _comment(CommentKind.COMPLETED).status == CommentStatus.POSTED, timeout=30, message="posted")

    time.sleep(2)
    assert len(github_down.posted) == 1
    assert "is complete for @gh-alice" in github_down.posted[0]["body"]["body"]
    assert comments_sweep() == 0


def test_a_refusal_is_not_retried_by_the_worker(celery_worker_process, exercise, post_event, github_down):
    github_down.fail_with(Reply(404, body={"message": "Not Found"}))
    github_down.start()

    assert post_event("pull_request", payloads.pr_event("opened")).status_code == 202
    wait_for(lambda: (c := _comment()) and c.status == CommentStatus.FAILED, timeout=30, message="failed")

    time.sleep(3)  # the worker would have retried by now (backoff of about a second)
    assert github_down.attempts == 1
    assert _comment().error == "GitHub answered 404: Not Found"
