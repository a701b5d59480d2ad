"""Applying a stored GitHub delivery to submissions.

Each handler records facts (the newest PR snapshot, reviews, check results,
timeline entries) and then asks `submission_recompute` for the state, so the
result does not depend on the order deliveries arrive in, and applying the
same delivery twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone

from cohort import services as cohort_services
from exercises import services
from exercises.github import parse_time
from exercises.models import CheckResult, Review, Submission, WebhookDelivery

PR_ACTIONS = {
    "opened", "reopened", "edited", "ready_for_review", "converted_to_draft",
    "synchronize", "closed", "review_requested",
}  # fmt: skip
REVIEW_ACTIONS = {"submitted", "edited", "dismissed"}


class Ignored(Exception):
    """The delivery is valid but nothing in it concerns the platform."""


def _author(pr: dict[str, Any]) -> tuple[str, int | None]:
    user = pr.get("user") or {}
    github_id = user.get("id")
    valid_id = isinstance(github_id, int) and not isinstance(github_id, bool)
    return str(user.get("login") or ""), github_id if valid_id else None


def _pull_request_submission(payload: dict[str, Any], *, create: bool) -> Submission:
    pr = payload.get("pull_request") or {}
    repository = (payload.get("repository") or {}).get("full_name", "")
    number = pr.get("number") or payload.get("number")
    if not repository or not number:
        raise Ignored("no repository or pull request number")
    author_login, author_id = _author(pr)
    submission = (
        Submission.objects.select_related("exercise__cohort", "exercise__step", "membership__user")
        .filter(repository__iexact=repository, pr_number=number)
        .first()
    )
    if submission is not None and author_login:
        services.submission_move_to_author(submission=submission, author_login=author_login, author_id=author_id)
    if submission is None and create:
        match = services.find_exercise_for_pull_request(
            repository=repository,
            author_login=author_login,
            author_id=author_id,
            head_ref=(pr.get("head") or {}).get("ref", ""),
            title=pr.get("title", ""),
        )
        if match is not None:
            membership, exercise = match
            submission = Submission.objects.create(
                membership=membership,
                exercise=exercise,
                repository=exercise.repository_full_name,
                pr_number=number,
                pr_url=pr.get("html_url") or f"https://github.com/{repository}/pull/{number}",
            )
            services.timeline_add(
                submission,
                kind="linked",
                actor=author_login,
                summary="Linked automatically from the branch name or title",
                at=parse_time(pr.get("created_at")),
            )
    if submission is None:
        raise Ignored(f"{repository}#{number} is not linked to an exercise")
    return submission


def _record_conflict_change(submission: Submission, *, at: datetime, delivery: WebhookDelivery) -> None:
    """Each conflict GitHub reports, and each resolution, is its own timeline entry."""
    last = (
        submission.timeline.filter(kind__in=("conflict", "conflict_resolved")).order_by("-occurred_at", "-id").first()
    )
    in_conflict = last is not None and last.kind == "conflict"
    if submission.has_conflict and not in_conflict:
        services.timeline_add(
            submission, kind="conflict", actor="", summary="GitHub reports a merge conflict", at=at, delivery=delivery
        )
    elif in_conflict and not submission.has_conflict and not submission.conflict_checking:
        if submission.merged_at:
            summary = "Merged: the conflict is over"
        elif not submission.pr_open:
            summary = "Closed: the conflict no longer matters"
        else:
            summary = "Merge conflict resolved"
        services.timeline_add(submission, kind="conflict_resolved", actor="", summary=summary, at=at, delivery=delivery)


_PR_SUMMARIES = {
    "opened": "Opened the pull request",
    "reopened": "Reopened the pull request",
    "edited": "Edited the title or description",
    "ready_for_review": "Marked ready for review",
    "converted_to_draft": "Converted to draft",
    "synchronize": "Pushed new commits",
    "review_requested": "Requested a review",
}


def handle_pull_request(delivery: WebhookDelivery) -> Submission:
    payload, action = delivery.payload, delivery.action
    if action not in PR_ACTIONS:
        raise Ignored(f"pull_request.{action} is not used")
    submission = _pull_request_submission(
        payload, create=action in {"opened", "reopened", "edited", "ready_for_review", "synchronize", "closed"}
    )
    pr = payload["pull_request"]
    applied = services.submission_apply_snapshot(submission, pr)
    at = parse_time(pr.get("updated_at")) or timezone.now()
    if action == "closed":
        summary = "Merged the pull request" if pr.get("merged") else "Closed without merging"
        actor = (pr.get("merged_by") or {}).get("login") or (payload.get("sender") or {}).get("login", "")
    elif action == "synchronize":
        summary = f"Pushed new commits (head {str(pr.get('head', {}).get('sha', ''))[:7]})"
        actor = (payload.get("sender") or {}).get("login", "")
    elif action == "review_requested":
        reviewer = (payload.get("requested_reviewer") or {}).get("login", "someone")
        summary, actor = f"Requested a review from @{reviewer}", (payload.get("sender") or {}).get("login", "")
    else:
        summary, actor = _PR_SUMMARIES[action], (payload.get("sender") or {}).get("login", "")
    services.timeline_add(
        submission,
        kind=f"pr_{action}",
        actor=actor,
        summary=summary,
        at=at,
        delivery=delivery,
        url=pr.get("html_url", ""),
    )
    if applied:
        _record_conflict_change(submission, at=at, delivery=delivery)
    return submission


def handle_pull_request_review(delivery: WebhookDelivery) -> Submission:
    payload, action = delivery.payload, delivery.action
    if action not in REVIEW_ACTIONS:
        raise Ignored(f"pull_request_review.{action} is not used")
    submission = _pull_request_submission(payload, create=False)
    review = payload.get("review") or {}
    state = (review.get("state") or "").lower()
    if action == "dismissed":
        state = "dismissed"
    submitted_at = parse_time(review.get("submitted_at")) or timezone.now()
    reviewer = (review.get("user") or {}).get("login", "")
    row, created = Review.objects.get_or_create(
        submission=submission,
        github_id=review["id"],
        defaults={
            "reviewer_login": reviewer,
            "state": state,
            "submitted_at": submitted_at,
            "commit_sha": review.get("commit_id") or "",
        },
    )
    if not created and action == "dismissed" and row.state != "dismissed":
        row.state = "dismissed"
        row.save(update_fields=["state"])
    if (payload.get("pull_request") or {}).get("updated_at"):
        services.submission_apply_snapshot(submission, payload["pull_request"])
    labels = {
        "approved": "Approved",
        "changes_requested": "Requested changes",
        "commented": "Commented in a review",
        "dismissed": "Review dismissed",
    }
    services.timeline_add(
        submission,
        kind=f"review_{state}",
        actor=reviewer,
        summary=labels.get(state, f"Review: {state}"),
        at=submitted_at,
        delivery=delivery,
        url=review.get("html_url", ""),
    )
    return submission


def handle_comment(delivery: WebhookDelivery) -> Submission:
    payload, action = delivery.payload, delivery.action
    if action != "created":
        raise Ignored(f"{delivery.event}.{action} is not used")
    if delivery.event == "issue_comment":
        issue = payload.get("issue") or {}
        if "pull_request" not in issue:
            raise Ignored("comment on an issue, not a pull request")
        payload = {**payload, "pull_request": {"number": issue.get("number")}}
    submission = _pull_request_submission(payload, create=False)
    comment = payload.get("comment") or {}
    body = (comment.get("body") or "").strip().replace("\n", " ")
    where = " on the code" if delivery.event == "pull_request_review_comment" else ""
    services.timeline_add(
        submission,
        kind="comment",
        actor=(comment.get("user") or {}).get("login", ""),
        summary=f"Commented{where}: {body[:200]}",
        at=parse_time(comment.get("created_at")) or timezone.now(),
        delivery=delivery,
        url=comment.get("html_url", ""),
    )
    return submission


def handle_check(delivery: WebhookDelivery) -> list[Submission]:
    payload, event = delivery.payload, delivery.event
    if delivery.action != "completed":
        raise Ignored(f"{event}.{delivery.action} is not used")
    check = payload.get(event) or {}
    repository = (payload.get("repository") or {}).get("full_name", "")
    numbers = [pr.get("number") for pr in check.get("pull_requests") or [] if pr.get("number")]
    head_sha = check.get("head_sha", "")
    submissions = list(
        Submission.objects.select_related("exercise__cohort", "exercise__step", "membership__user").filter(
            repository__iexact=repository, pr_number__in=numbers
        )
    ) or list(
        Submission.objects.select_related("exercise__cohort", "exercise__step", "membership__user").filter(
            repository__iexact=repository, head_sha=head_sha
        )
    )
    if not submissions:
        raise Ignored("no linked pull request for this check")
    name = check.get("name") or (check.get("app") or {}).get("name", "")
    completed_at = parse_time(check.get("completed_at") or check.get("updated_at"))
    for submission in submissions:
        stored = (
            CheckResult.objects.filter(submission=submission, kind=event, github_id=check["id"])
            .values_list("completed_at", flat=True)
            .first()
        )
        if stored and completed_at and completed_at < stored:
            # A re-run's result arrived first; this older report must not overwrite it.
            continue
        CheckResult.objects.update_or_create(
            submission=submission,
            kind=event,
            github_id=check["id"],
            defaults={
                "name": name[:200],
                "head_sha": head_sha,
                "status": check.get("status", "completed"),
                "conclusion": check.get("conclusion") or "",
                "completed_at": completed_at,
            },
        )
        if head_sha == submission.head_sha:
            services.timeline_add(
                submission,
                kind="checks",
                actor="",
                summary=f"Checks {check.get('conclusion') or 'finished'}: {name}",
                at=completed_at or timezone.now(),
                delivery=delivery,
            )
    return submissions


HANDLERS: dict[str, Callable[[WebhookDelivery], Submission | list[Submission]]] = {
    "pull_request": handle_pull_request,
    "pull_request_review": handle_pull_request_review,
    "pull_request_review_comment": handle_comment,
    "issue_comment": handle_comment,
    "check_suite": handle_check,
    "check_run": handle_check,
}


def apply_delivery(delivery: WebhookDelivery, *, at: datetime | None = None) -> bool:
    """Apply one delivery; False when it is valid but ignored."""
    handler = HANDLERS.get(delivery.event)
    if handler is None:
        return False
    try:
        result = handler(delivery)
    except Ignored:
        return False
    for submission in result if isinstance(result, list) else [result]:
        services.submission_recompute(submission=submission)
        activity_at = parse_time((delivery.payload.get("pull_request") or {}).get("updated_at")) or timezone.now()
        cohort_services.progress_record_activity(
            membership=submission.membership, step=submission.exercise.step, at=activity_at
        )
    return True
