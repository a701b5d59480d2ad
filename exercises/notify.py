"""Telling GitHub: one comment when a PR is linked and one when its exercise is done.

Each comment is a `PullRequestComment` row first (written in the transaction
that made it due), then posted by a task. GitHub being down, slow or rate
limiting us moves the row's `next_attempt_at` forward (backoff with jitter, or
GitHub's own Retry-After); the task retries itself for a few minutes and the
beat sweep picks up whatever is still due after that. A refusal (4xx other
than a rate limit) is final and keeps GitHub's message for the leads.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from config.publish import publish_after_commit, publish_now_or_leave_to_sweep
from exercises.models import CommentKind, CommentStatus, PullRequestComment, Submission

logger = logging.getLogger(__name__)

_POSTED_FIELDS = {CommentKind.LINKED: "linked_comment_at", CommentKind.COMPLETED: "completed_comment_at"}
# Longer than one HTTP attempt (10 s timeout): a second poster waits for the first to finish.
CLAIM_SECONDS = 60
MAX_BACKOFF_SECONDS = 600
# What GitHub asks for after a secondary rate limit without Retry-After: "wait at least one minute".
SECONDARY_RATE_LIMIT_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 10


class GitHubUnavailable(Exception):
    """A transient failure (5xx, timeout, connection refused, rate limit): worth retrying."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GitHubRefused(Exception):
    """GitHub answered 4xx for a reason other than a rate limit: retrying changes nothing."""


@dataclass(frozen=True)
class Outcome:
    status: str  # posted, retry, failed, skipped
    retry_in: float | None = None


def _message(submission: Submission, kind: str) -> str:
    learner = submission.membership.user
    who = f"@{learner.github_username}" if learner.github_username else learner.display_name
    if kind == CommentKind.LINKED:
        return f"🔗 First Break AI: linked to exercise **{submission.exercise.title}** for {who}. Reviews, checks and the merge here will count toward their progress."
    return f"✅ First Break AI: exercise **{submission.exercise.title}** is complete for {who}. Well done!"


def backoff_seconds(attempts: int) -> float:
    """Exponential from GITHUB_COMMENT_RETRY_SECONDS, capped, with jitter so many comments do not retry in step."""
    base: float = min(settings.GITHUB_COMMENT_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return base * random.uniform(0.5, 1.0)


def comment_due(*, submission: Submission, kind: str) -> PullRequestComment | None:
    """Owe the pull request a comment (once per kind); None when no token is configured.

    The caller's transaction writes the row; the task is published after it commits.
    """
    if not settings.GITHUB_TOKEN:
        return None
    comment, created = PullRequestComment.objects.get_or_create(
        submission=submission, kind=kind, defaults={"next_attempt_at": timezone.now()}
    )
    if created:
        from exercises import tasks

        publish_after_commit(tasks.post_comment, comment_id=comment.pk)
    return comment


def comment_post(*, comment_id: int) -> Outcome:
    """Post one due comment if this caller wins the claim; record what GitHub said."""
    now = timezone.now()
    claimed = PullRequestComment.objects.filter(
        pk=comment_id, status=CommentStatus.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS), attempts=F("attempts") + 1)
    if claimed != 1:
        return Outcome("skipped")
    comment = PullRequestComment.objects.select_related("submission__exercise", "submission__membership__user").get(
        pk=comment_id
    )
    submission = comment.submission
    if not settings.GITHUB_TOKEN:
        return _fail(comment, "No GITHUB_TOKEN is configured.")
    if submission.refused_reason or not submission.author_login:
        # Nothing goes public until the platform knows the author is the learner.
        return _fail(comment, "Not posted: GitHub has not confirmed the pull request is the learner's.")
    try:
        _post_comment(submission.repository, submission.pr_number, _message(submission, comment.kind))
    except GitHubRefused as exc:
        logger.error("GitHub refused the %s comment on %s: %s", comment.kind, submission, exc)
        return _fail(comment, str(exc))
    except GitHubUnavailable as exc:
        return _reschedule(comment, exc)
    posted_at = timezone.now()
    PullRequestComment.objects.filter(pk=comment.pk).update(status=CommentStatus.POSTED, posted_at=posted_at, error="")
    Submission.objects.filter(pk=submission.pk).update(**{_POSTED_FIELDS[CommentKind(comment.kind)]: posted_at})
    return Outcome("posted")


def _fail(comment: PullRequestComment, error: str) -> Outcome:
    PullRequestComment.objects.filter(pk=comment.pk).update(status=CommentStatus.FAILED, error=error[:500])
    return Outcome("failed")


def _reschedule(comment: PullRequestComment, exc: GitHubUnavailable) -> Outcome:
    give_up_at = comment.created_at + timedelta(hours=settings.GITHUB_COMMENT_GIVE_UP_HOURS)
    delay = exc.retry_after if exc.retry_after is not None else backoff_seconds(comment.attempts)
    next_attempt_at = timezone.now() + timedelta(seconds=delay)
    if next_attempt_at > give_up_at:
        logger.error("giving up on the %s comment on submission %s: %s", comment.kind, comment.submission_id, exc)
        return _fail(comment, f"Gave up after {comment.attempts} attempts: {exc}")
    logger.warning(
        "GitHub unavailable for the %s comment on submission %s (attempt %s, next in %.0f s): %s",
        comment.kind, comment.submission_id, comment.attempts, delay, exc,
    )  # fmt: skip
    PullRequestComment.objects.filter(pk=comment.pk, status=CommentStatus.PENDING).update(
        next_attempt_at=next_attempt_at, error=f"Attempt {comment.attempts}: {exc}"[:500]
    )
    return Outcome("retry", retry_in=delay)


def comments_sweep(*, limit: int = 200) -> int:
    """Publish comments that are due and whose task is gone (retries used up, broker was down)."""
    from exercises import tasks

    # A little grace so a task's own scheduled retry gets its turn before the sweep's copy.
    cutoff = timezone.now() - timedelta(seconds=30)
    ids = list(
        PullRequestComment.objects.filter(status=CommentStatus.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for comment_id in ids:
        publish_now_or_leave_to_sweep(tasks.post_comment, what=f"comment {comment_id}", comment_id=comment_id)
    return len(ids)


def comment_retry_now(*, comment: PullRequestComment) -> None:
    """A lead asks for a failed or waiting comment to be tried again now (admin action)."""
    PullRequestComment.objects.filter(pk=comment.pk).exclude(status=CommentStatus.POSTED).update(
        status=CommentStatus.PENDING, next_attempt_at=timezone.now(), created_at=timezone.now()
    )
    from exercises import tasks

    publish_after_commit(tasks.post_comment, comment_id=comment.pk)


def _retry_after(exc: urllib.error.HTTPError, detail: str) -> float | None:
    """Seconds GitHub asks us to wait, or None when this answer is not a rate limit."""
    headers = exc.headers
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(float(retry_after), 0.0)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(retry_after)
            return max((parsed - timezone.now()).total_seconds(), 0.0)
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
        try:
            return max(float(headers["x-ratelimit-reset"]) - time.time(), 0.0) + 1
        except ValueError:
            return SECONDARY_RATE_LIMIT_SECONDS
    if exc.code == 429 or "rate limit" in detail.lower():
        return SECONDARY_RATE_LIMIT_SECONDS
    return None


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read(4000) or b"{}")
    except (ValueError, OSError):
        return exc.reason or ""
    return str(body.get("message") or exc.reason or "") if isinstance(body, dict) else str(exc.reason or "")


def _post_comment(repository: str, number: int, body: str) -> None:
    url = f"{settings.GITHUB_API_URL.rstrip('/')}/repos/{repository}/issues/{number}/comments"
    request = urllib.request.Request(  # noqa: S310 - the API URL comes from settings (http/https only)
        url,
        data=json.dumps({"body": body}).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {settings.GITHUB_TOKEN}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
            "User-Agent": "first-break-ai-platform",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        detail = _error_detail(exc)
        message = f"GitHub answered {exc.code}: {detail}".rstrip(": ")
        if exc.code >= 500:
            raise GitHubUnavailable(message) from exc
        if exc.code in (403, 429):
            retry_after = _retry_after(exc, detail)
            if retry_after is not None:
                raise GitHubUnavailable(message, retry_after=retry_after) from exc
        raise GitHubRefused(message) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise GitHubUnavailable(f"GitHub unreachable: {reason!r}") from exc
