"""Comments on GitHub, against a fake GitHub API server on loopback (tests/fake_github.py)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from exercises import notify, tasks
from exercises.models import CommentKind, CommentStatus, PullRequestComment, Submission
from exercises.notify import comment_post, comments_sweep
from exercises.services import submission_link
from tests.exercises import payloads
from tests.fake_github import FakeGitHub, Reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def github(settings):
    fake = FakeGitHub().start()
    settings.GITHUB_API_URL = fake.url
    settings.GITHUB_TOKEN = "test-token"
    yield fake
    fake.stop()


@pytest.fixture
def confirmed_submission(exercise, world, deliver_now):
    """Alice's PR #7, linked automatically; GitHub named her as the author, so a link comment is owed."""
    deliver_now("pull_request", payloads.pr_event("opened"))
    return Submission.objects.get()


@pytest.fixture
def deliver_now(post_event, django_capture_on_commit_callbacks):
    from exercises.deliveries import delivery_process
    from exercises.models import WebhookDelivery

    def deliver(event: str, payload: dict) -> None:
        with django_capture_on_commit_callbacks(execute=False):
            response = post_event(event, payload)
            delivery = WebhookDelivery.objects.get(delivery_id=response.json()["delivery"])
            delivery_process(delivery_id=delivery.pk)

    return deliver


def _linked(submission: Submission) -> PullRequestComment:
    return PullRequestComment.objects.get(submission=submission, kind=CommentKind.LINKED)


def _due_now(comment: PullRequestComment) -> None:
    PullRequestComment.objects.filter(pk=comment.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_linked_comment_posted_once(github, confirmed_submission):
    comment = _linked(confirmed_submission)

    assert comment_post(comment_id=comment.pk).status == "posted"
    assert comment_post(comment_id=comment.pk).status == "skipped"

    assert len(github.posted) == 1
    request = github.posted[0]
    assert request["path"] == f"/repos/{payloads.REPO}/issues/7/comments"
    assert "Open your first pull request" in request["body"]["body"] and "@gh-alice" in request["body"]["body"]
    assert request["auth"] == "Bearer test-token"
    assert Submission.objects.get().linked_comment_at is not None


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, body={"message": "Server Error"}),
        Reply(502),
        Reply(503, headers={"Retry-After": "3"}),
        Reply(429, headers={"Retry-After": "2"}),
    ],
)
def test_server_errors_and_rate_limits_are_retried_then_posted_once(github, confirmed_submission, reply):
    comment = _linked(confirmed_submission)
    github.fail_with(reply)

    outcome = comment_post(comment_id=comment.pk)

    comment.refresh_from_db()
    assert outcome.status == "retry" and outcome.retry_in is not None
    assert comment.status == CommentStatus.PENDING and comment.next_attempt_at > timezone.now()
    assert f"GitHub answered {reply.status}" in comment.error
    assert comment_post(comment_id=comment.pk).status == "skipped"  # not due yet
    _due_now(comment)
    assert comment_post(comment_id=comment.pk).status == "posted"
    assert len(github.posted) == 1 and github.attempts == 2


def test_retry_after_and_secondary_rate_limits_set_the_wait(github, confirmed_submission):
    comment = _linked(confirmed_submission)
    reset = int(time.time()) + 300
    github.fail_with(
        Reply(403, headers={"Retry-After": "120"}, body={"message": "You have exceeded a secondary rate limit."}),
        Reply(403, body={"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}),
        Reply(403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}, body={"message": "API rate limit exceeded"}),
    )  # fmt: skip

    waits = []
    for _ in range(3):
        waits.append(comment_post(comment_id=comment.pk).retry_in)
        _due_now(comment)

    assert waits[0] == 120
    assert waits[1] == notify.SECONDARY_RATE_LIMIT_SECONDS
    assert 290 <= waits[2] <= 302
    assert _linked(confirmed_submission).status == CommentStatus.PENDING


@pytest.mark.parametrize(
    ("status", "message"),
    [(404, "Not Found"), (403, "Resource not accessible by integration"), (422, "Validation Failed"), (401, "Bad credentials")],
)  # fmt: skip
def test_client_errors_are_final_and_keep_githubs_message(github, confirmed_submission, status, message, caplog):
    comment = _linked(confirmed_submission)
    github.fail_with(Reply(status, body={"message": message}))

    result = tasks.post_comment.apply(kwargs={"comment_id": comment.pk})

    comment.refresh_from_db()
    assert result.get() == "failed"
    assert (comment.status, comment.attempts) == (CommentStatus.FAILED, 1)
    assert comment.error == f"GitHub answered {status}: {message}"
    assert github.attempts == 1  # no retry
    assert message in caplog.text
    assert comments_sweep() == 0


def test_connection_refused_and_timeouts_are_retried(github, confirmed_submission, monkeypatch):
    comment = _linked(confirmed_submission)
    monkeypatch.setattr(notify, "HTTP_TIMEOUT_SECONDS", 0.3)
    github.fail_with(Reply(201, delay=1.0))

    assert comment_post(comment_id=comment.pk).status == "retry"  # timed out
    assert "unreachable" in _linked(confirmed_submission).error
    _due_now(comment)
    github.stop()
    assert comment_post(comment_id=comment.pk).status == "retry"  # connection refused
    assert _linked(confirmed_submission).attempts == 2


def test_backoff_doubles_with_jitter_and_is_capped(settings):
    settings.GITHUB_COMMENT_RETRY_SECONDS = 15
    for attempts, base in [(1, 15), (2, 30), (3, 60), (6, 480), (9, 600)]:
        samples = [notify.backoff_seconds(attempts) for _ in range(50)]
        assert all(base / 2 <= s <= base for s in samples), (attempts, min(samples), max(samples))
        assert len(set(samples)) > 1  # jitter


def test_gives_up_after_the_window_and_shows_failed(github, confirmed_submission):
    comment = _linked(confirmed_submission)
    PullRequestComment.objects.filter(pk=comment.pk).update(created_at=timezone.now() - timedelta(hours=25))
    github.fail_with(Reply(500))

    assert comment_post(comment_id=comment.pk).status == "failed"
    comment.refresh_from_db()
    assert comment.status == CommentStatus.FAILED and comment.error.startswith("Gave up after 1 attempts")


def test_sweep_publishes_only_comments_that_are_due(github, confirmed_submission, monkeypatch):
    published = []
    monkeypatch.setattr(tasks.post_comment, "apply_async", lambda kwargs, **kw: published.append(kwargs["comment_id"]))
    comment = _linked(confirmed_submission)

    assert comments_sweep() == 0  # just created: its own task has it
    PullRequestComment.objects.filter(pk=comment.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    assert comments_sweep() == 1 and published == [comment.pk]
    PullRequestComment.objects.filter(pk=comment.pk).update(status=CommentStatus.POSTED)
    assert comments_sweep() == 0 and published == [comment.pk]


def test_no_token_means_no_comment_owed(settings, exercise, world, deliver_now):
    settings.GITHUB_TOKEN = ""

    deliver_now("pull_request", payloads.pr_event("opened"))

    assert not PullRequestComment.objects.exists()


def test_link_comment_waits_until_github_confirms_the_author(github, exercise, world, deliver_now):
    world.bob.github_username, world.bob.github_confirmed_at = "gh-bob", timezone.now()
    world.bob.save()
    submission = submission_link(
        membership=world.bob_membership, exercise=exercise, pr_url=f"https://github.com/{payloads.REPO}/pull/12"
    )
    assert not PullRequestComment.objects.exists()  # author not known yet: nothing public

    deliver_now("pull_request", payloads.pr_event("opened", number=12, login="a-stranger", ref="x"))

    submission.refresh_from_db()
    assert "a-stranger" in submission.refused_reason
    assert not PullRequestComment.objects.exists()
    assert github.attempts == 0


def test_link_comment_is_owed_once_the_author_is_the_learner(github, exercise, world, deliver_now):
    submission = submission_link(
        membership=world.alice_membership, exercise=exercise, pr_url=f"https://github.com/{payloads.REPO}/pull/13"
    )
    assert not PullRequestComment.objects.exists()

    deliver_now("pull_request", payloads.pr_event("opened", number=13, ref="x"))
    deliver_now("pull_request", payloads.pr_event("edited", number=13, ref="x", updated_at="2026-03-10T10:30:00Z"))

    assert PullRequestComment.objects.filter(submission=submission, kind=CommentKind.LINKED).count() == 1
