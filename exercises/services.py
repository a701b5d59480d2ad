"""Rules and writes for exercises and submissions."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from cohort import services as cohort_services
from cohort.models import Membership, Role
from exercises import tasks
from exercises.github import parse_pr_url
from exercises.models import (
    ChecksState,
    CompletionRule,
    Exercise,
    ExerciseCompletion,
    ExerciseKind,
    Submission,
    SubmissionState,
    TimelineEvent,
)

logger = logging.getLogger(__name__)

DECISIVE_REVIEW_STATES = ("approved", "changes_requested")


class LinkError(Exception):
    """A pull request that cannot be linked; the message is shown to the learner."""


# --- Linking ------------------------------------------------------------------------


@transaction.atomic
def submission_link(*, membership: Membership, exercise: Exercise, pr_url: str) -> Submission:
    """Link a pull request a learner pasted to an exercise."""
    if exercise.kind != ExerciseKind.PULL_REQUEST or exercise.cohort_id != membership.cohort_id:
        raise LinkError("This exercise does not take pull requests.")
    ref = parse_pr_url(pr_url)
    if ref is None:
        raise LinkError("That is not a GitHub pull request URL (https://github.com/owner/name/pull/123).")
    if ref.repository.lower() != exercise.repository_full_name.lower():
        raise LinkError(f"Open the pull request in {exercise.repository_full_name}; this one is in {ref.repository}.")
    existing = Submission.objects.filter(repository__iexact=ref.repository, pr_number=ref.number).first()
    if existing:
        if existing.membership_id == membership.pk and existing.exercise_id == exercise.pk:
            return existing
        raise LinkError("That pull request is already linked to an exercise.")
    submission = Submission(
        membership=membership,
        exercise=exercise,
        repository=exercise.repository_full_name,
        pr_number=ref.number,
        pr_url=ref.url,
    )
    try:
        with transaction.atomic():
            submission.save()
    except IntegrityError:
        raise LinkError("That pull request is already linked to an exercise.") from None
    timeline_add(submission, kind="linked", actor=membership.user.github_username, summary="Linked to the exercise")
    cohort_services.progress_record_activity(membership=membership, step=exercise.step)
    submission_announce_link(submission)
    return submission


def submission_check_author(*, submission: Submission, author_login: str) -> None:
    """Refuse a link whose PR GitHub says was opened by someone else."""
    submission.author_login = author_login
    expected = submission.membership.user.github_username
    if author_login and expected.lower() != author_login.lower():
        submission.refused_reason = (
            f"GitHub says @{author_login} opened this pull request, but your GitHub username is "
            f"{'@' + expected if expected else 'not set'}. Only your own pull requests count."
        )
    else:
        submission.refused_reason = ""


def find_exercise_for_pull_request(
    *, repository: str, author_login: str, head_ref: str, title: str
) -> tuple[Membership, Exercise] | None:
    """Automatic linking: the author is a learner of a cohort whose exercise slug is in the branch or title."""
    if not author_login:
        return None
    memberships = Membership.objects.filter(
        user__github_username__iexact=author_login, role=Role.LEARNER
    ).select_related("cohort")
    haystack = f"{head_ref} {title}".lower()
    for membership in memberships:
        candidates = Exercise.objects.filter(cohort=membership.cohort, kind=ExerciseKind.PULL_REQUEST).select_related(
            "cohort"
        )
        # Longest slug first, so "merge-conflict-2" wins over "merge-conflict".
        for exercise in sorted(candidates, key=lambda e: -len(e.slug)):
            if exercise.repository_full_name.lower() == repository.lower() and exercise.slug in haystack:
                return membership, exercise
    return None


def submission_announce_link(submission: Submission) -> None:
    if settings.GITHUB_TOKEN:
        tasks.comment_on_pull_request.delay_on_commit(submission_id=submission.pk, kind="linked")


# --- Deriving state -----------------------------------------------------------------


def _derive_state(submission: Submission) -> str:
    if submission.merged_at:
        return SubmissionState.MERGED
    if not submission.pr_open:
        return SubmissionState.CLOSED
    if submission.pr_draft:
        return SubmissionState.DRAFT
    latest_by_reviewer: dict[str, str] = {}
    for review in submission.reviews.order_by("submitted_at", "github_id"):
        if review.state in DECISIVE_REVIEW_STATES or review.state == "dismissed":
            latest_by_reviewer[review.reviewer_login.lower()] = review.state
    verdicts = set(latest_by_reviewer.values())
    if "changes_requested" in verdicts:
        return SubmissionState.CHANGES_REQUESTED
    if "approved" in verdicts:
        return SubmissionState.APPROVED
    return SubmissionState.OPEN


def _derive_checks(submission: Submission) -> str:
    if not submission.head_sha:
        return ChecksState.NONE
    results = list(submission.checks.filter(head_sha=submission.head_sha))
    if not results:
        return ChecksState.NONE
    conclusions = {r.conclusion for r in results if r.status == "completed"}
    if conclusions & {"failure", "timed_out", "cancelled", "action_required", "startup_failure"}:
        return ChecksState.FAILURE
    if any(r.status != "completed" for r in results):
        return ChecksState.PENDING
    return ChecksState.SUCCESS


def _rule_holds(submission: Submission) -> bool:
    rule = submission.exercise.completion_rule
    was_approved = submission.approved_at is not None
    if rule == CompletionRule.MERGED:
        return submission.merged_at is not None
    if rule == CompletionRule.APPROVED:
        return submission.state == SubmissionState.APPROVED or (submission.merged_at is not None and was_approved)
    if rule == CompletionRule.APPROVED_AND_CHECKS_GREEN:
        return (
            submission.state in (SubmissionState.APPROVED, SubmissionState.MERGED)
            and was_approved
            and submission.checks_state == ChecksState.SUCCESS
        )
    return False


def submission_recompute(*, submission: Submission, at: datetime | None = None) -> Submission:
    """Derive state from the stored facts and complete the exercise when its rule first holds."""
    reviews = list(submission.reviews.all())
    decisive = [r for r in reviews if r.state in DECISIVE_REVIEW_STATES]
    submission.review_rounds = len(decisive)
    submission.first_review_at = min((r.submitted_at for r in reviews if r.state != "dismissed"), default=None)
    approvals = [r.submitted_at for r in decisive if r.state == "approved"]
    submission.state = _derive_state(submission)
    submission.approved_at = (
        min(approvals) if approvals and submission.state in (SubmissionState.APPROVED, SubmissionState.MERGED) else None
    )
    submission.checks_state = _derive_checks(submission)
    if submission.exercise.due_at and submission.opened_at:
        submission.is_late = submission.opened_at > submission.exercise.due_at
    submission.save()
    if not submission.refused_reason and not submission.completed_at and _rule_holds(submission):
        exercise_complete(membership=submission.membership, exercise=submission.exercise, submission=submission, at=at)
    return submission


# --- Completion -------------------------------------------------------------------------


@transaction.atomic
def exercise_complete(
    *,
    membership: Membership,
    exercise: Exercise,
    submission: Submission | None = None,
    evidence: dict | None = None,
    at: datetime | None = None,
) -> ExerciseCompletion:
    """Mark an exercise done (once) and move the learner's step progress."""
    at = at or timezone.now()
    completion, created = ExerciseCompletion.objects.get_or_create(
        membership=membership,
        exercise=exercise,
        defaults={"submission": submission, "evidence": evidence or {}, "completed_at": at},
    )
    if submission is not None and submission.completed_at is None:
        submission.completed_at = at
        submission.save(update_fields=["completed_at"])
        timeline_add(submission, kind="completed", actor="", summary=f"Exercise “{exercise.title}” completed")
        if settings.GITHUB_TOKEN:
            tasks.comment_on_pull_request.delay_on_commit(submission_id=submission.pk, kind="completed")
    if created:
        step_sync_completion(membership=membership, step=exercise.step, at=at)
    return completion


def step_sync_completion(*, membership: Membership, step, at: datetime | None = None) -> None:  # type: ignore[no-untyped-def]
    """A step is done when it has exercises and the learner completed all of them."""
    total = Exercise.objects.filter(step=step).count()
    done = ExerciseCompletion.objects.filter(membership=membership, exercise__step=step).count()
    cohort_services.progress_record_activity(membership=membership, step=step, at=at)
    cohort_services.progress_set_completed(
        membership=membership, step=step, completed=total > 0 and done >= total, at=at
    )


@transaction.atomic
def exercise_self_check(*, membership: Membership, exercise: Exercise) -> ExerciseCompletion:
    if exercise.kind != ExerciseKind.SELF_CHECK or exercise.cohort_id != membership.cohort_id:
        raise LinkError("Only self-check exercises can be marked done by hand.")
    return exercise_complete(membership=membership, exercise=exercise)


def timeline_add(
    submission: Submission,
    *,
    kind: str,
    actor: str,
    summary: str,
    at: datetime | None = None,
    delivery=None,
    url: str = "",
) -> None:  # type: ignore[no-untyped-def]
    TimelineEvent.objects.get_or_create(
        submission=submission,
        delivery=delivery,
        kind=kind,
        defaults={"actor_login": actor, "summary": summary[:300], "occurred_at": at or timezone.now(), "url": url},
    )
