"""Telling GitHub: one comment when a PR is linked and one when its exercise is done."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from django.conf import settings
from django.utils import timezone

from exercises.models import Submission

logger = logging.getLogger(__name__)

_FIELDS = {"linked": "linked_comment_at", "completed": "completed_comment_at"}


class GitHubUnavailable(OSError):
    """A transient GitHub API failure (5xx, rate limit, network): worth retrying."""


def _message(submission: Submission, kind: str) -> str:
    learner = submission.membership.user
    who = f"@{learner.github_username}" if learner.github_username else learner.display_name
    if kind == "linked":
        return f"🔗 First Break AI: linked to exercise **{submission.exercise.title}** for {who}. Reviews, checks and the merge here will count toward their progress."
    return f"✅ First Break AI: exercise **{submission.exercise.title}** is complete for {who}. Well done!"


def submission_comment(*, submission_id: int, kind: str) -> bool:
    """Post the comment once. The timestamp is claimed first and released if GitHub fails."""
    field = _FIELDS[kind]
    if not settings.GITHUB_TOKEN:
        return False
    claimed = Submission.objects.filter(pk=submission_id, **{f"{field}__isnull": True}).update(
        **{field: timezone.now()}
    )
    if claimed != 1:
        return False
    submission = Submission.objects.select_related("exercise", "membership__user").get(pk=submission_id)
    try:
        _post_comment(submission.repository, submission.pr_number, _message(submission, kind))
    except Exception:
        Submission.objects.filter(pk=submission_id).update(**{field: None})
        raise
    return True


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
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - https API URL from settings
            response.read()
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429 or (exc.code == 403 and exc.headers.get("x-ratelimit-remaining") == "0"):
            raise GitHubUnavailable(f"GitHub answered {exc.code}") from exc
        logger.error("GitHub refused the comment on %s#%s: %s", repository, number, exc.code)
        raise
    except urllib.error.URLError as exc:
        raise GitHubUnavailable(str(exc.reason)) from exc
