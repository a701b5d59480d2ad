"""Rules and writes for exercises and submissions."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from cohort import services as cohort_services
from cohort.models import Membership, RoadmapStep, Role, User
from exercises import selectors
from exercises.github import parse_pr_url, parse_time
from exercises.models import (
    ChecksState,
    CommentKind,
    CompletionRule,
    Exercise,
    ExerciseCompletion,
    ExerciseKind,
    Submission,
    SubmissionState,
    TimelineEvent,
    WebhookDelivery,
)
from exercises.notify import comment_due

logger = logging.getLogger(__name__)

DECISIVE_REVIEW_STATES = ("approved", "changes_requested")


class LinkError(Exception):
    """A pull request that cannot be linked; the message is shown to the learner."""


# --- GitHub identity -------------------------------------------------------------------


def learner_for_github_author(*, login: str, github_id: int | None) -> User | None:
    """The account a pull request's author is proven to be, or None.

    GitHub's numeric id decides when we know it (from a connected GitHub account,
    or pinned by an earlier delivery); otherwise the login of a username a lead
    confirmed, as long as no other numeric id was pinned to it. A name someone
    merely typed earns nothing.
    """
    if github_id is not None:
        user = User.objects.filter(github_id=github_id).first()
        if user is not None:
            return user
    if not login:
        return None
    return User.objects.filter(
        github_username__iexact=login, github_confirmed_at__isnull=False, github_id__isnull=True
    ).first()


@transaction.atomic
def github_username_confirm(*, user: User, confirm: bool) -> None:
    """A lead vouches that a learner's typed GitHub username is theirs (where GitHub sign-in is not configured).

    Withdrawing it also forgets the numeric id pinned through it.
    """
    if not user.github_username:
        raise LinkError("This learner has not entered a GitHub username yet.")
    if confirm:
        User.objects.filter(pk=user.pk, github_confirmed_at__isnull=True).update(github_confirmed_at=timezone.now())
    else:
        User.objects.filter(pk=user.pk).update(github_confirmed_at=None, github_id=None)


def _is_author(user: User, *, login: str, github_id: int | None) -> bool:
    if user.github_id is not None and github_id is not None:
        return user.github_id == github_id
    return user.github_confirmed and bool(login) and user.github_username.lower() == login.lower()


def _pin_github_id(user: User, github_id: int | None) -> None:
    """The first delivery after a lead confirmed a login fixes the account behind it."""
    if github_id is None or user.github_id is not None or User.objects.filter(github_id=github_id).exists():
        return
    User.objects.filter(pk=user.pk, github_id__isnull=True).update(github_id=github_id)
    user.github_id = github_id


def submission_check_author(*, submission: Submission, author_login: str, author_id: int | None = None) -> None:
    """Accept the link only if GitHub's author is the learner's proven account; owe the link comment then."""
    learner = submission.membership.user
    submission.author_login = author_login
    submission.author_github_id = author_id
    if _is_author(learner, login=author_login, github_id=author_id):
        _pin_github_id(learner, author_id)
        submission.refused_reason = ""
        # Only now does the platform say anything in public.
        if submission.pk:
            comment_due(submission=submission, kind=CommentKind.LINKED)
        return
    if not learner.github_confirmed:
        submission.refused_reason = (
            f"GitHub says @{author_login} opened this pull request. It counts once your GitHub account is "
            f"{'connected' if settings.GITHUB_LOGIN_ENABLED else 'confirmed by a lead'} (see your profile)."
        )
    else:
        submission.refused_reason = (
            f"GitHub says @{author_login} opened this pull request, but your GitHub account is "
            f"@{learner.github_username}. Only your own pull requests count."
        )


def find_exercise_for_pull_request(
    *, repository: str, author_login: str, head_ref: str, title: str, author_id: int | None = None
) -> tuple[Membership, Exercise] | None:
    """Automatic linking: the author is a learner of a cohort whose exercise slug is in the branch or title."""
    author = learner_for_github_author(login=author_login, github_id=author_id)
    if author is None:
        return None
    memberships = Membership.objects.filter(user=author, role=Role.LEARNER).select_related("cohort")
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


def submission_move_to_author(*, submission: Submission, author_login: str, author_id: int | None) -> bool:
    """A PR linked by someone who is not its author moves to its author, when they learn in that cohort.

    This is what stops squatting: pasting someone else's PR URL first blocks nobody.
    """
    author = learner_for_github_author(login=author_login, github_id=author_id)
    if author is None or author.pk == submission.membership.user_id:
        return False
    membership = Membership.objects.filter(
        user=author, cohort_id=submission.exercise.cohort_id, role=Role.LEARNER
    ).first()
    if membership is None:
        return False
    submission.membership = membership
    submission.save(update_fields=["membership"])
    timeline_add(submission, kind="moved", actor=author_login, summary=f"Moved to its author @{author_login}")
    return True


# --- Linking ------------------------------------------------------------------------


@transaction.atomic
def submission_link(*, membership: Membership, exercise: Exercise, pr_url: str) -> Submission:
    """Link a pull request a learner pasted to an exercise.

    What GitHub already sent about the PR (title, opened time, author) is used at
    once: a PR by someone else is refused here, not after the next delivery.
    """
    if exercise.kind != ExerciseKind.PULL_REQUEST or exercise.cohort_id != membership.cohort_id:
        raise LinkError("This exercise does not take pull requests.")
    ref = parse_pr_url(pr_url)
    if ref is None:
        raise LinkError("That is not a GitHub pull request URL (https://github.com/owner/name/pull/123).")
    if ref.repository.lower() != exercise.repository_full_name.lower():
        raise LinkError(f"Open the pull request in {exercise.repository_full_name}; this one is in {ref.repository}.")
    snapshot = selectors.pull_request_snapshot(repository=ref.repository, number=ref.number)
    author = (snapshot or {}).get("user") or {}
    author_login, author_id = author.get("login", ""), _int_or_none(author.get("id"))
    learner = membership.user
    if snapshot and not _is_author(learner, login=author_login, github_id=author_id):
        if not learner.github_confirmed:
            raise LinkError(
                f"GitHub says @{author_login} opened this pull request, and your GitHub account is not "
                f"{'connected' if settings.GITHUB_LOGIN_ENABLED else 'confirmed by a lead'} yet (see your profile)."
            )
        raise LinkError(f"GitHub says @{author_login} opened this pull request; only your own pull requests count.")
    existing = (
        Submission.objects.select_for_update()
        .select_related("membership__user", "exercise")
        .filter(repository__iexact=ref.repository, pr_number=ref.number)
        .first()
    )
    if existing:
        if existing.membership_id == membership.pk and existing.exercise_id == exercise.pk:
            return existing
        someone_else_unproven = existing.membership_id != membership.pk and (
            existing.refused_reason or not existing.author_login
        )
        if not someone_else_unproven:
            raise LinkError("That pull request is already linked to an exercise.")
        if not snapshot:
            raise LinkError(
                "Another learner linked this pull request first. If it is yours, it moves to you as soon as "
                "GitHub reports its author."
            )
        # Linked first by someone who is not its author (GitHub says so): the author takes it.
        existing.delete()
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
    timeline_add(submission, kind="linked", actor=learner.github_username, summary="Linked to the exercise")
    if snapshot:
        submission_apply_snapshot(submission, snapshot)
        submission_recompute(submission=submission)
    cohort_services.progress_record_activity(membership=membership, step=exercise.step)
    return submission


@transaction.atomic
def submission_unlink(*, membership: Membership, submission: Submission) -> None:
    """A learner takes back a PR they linked; one that already completed the exercise stays as its evidence."""
    if submission.membership_id != membership.pk:
        raise LinkError("Only the learner who linked a pull request can unlink it.")
    if submission.completed_at:
        raise LinkError("This pull request completed the exercise; it stays as the evidence.")
    submission.delete()


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def submission_apply_snapshot(submission: Submission, pr: dict[str, Any]) -> bool:
    """Store a pull_request snapshot's fields unless it is older than the one we have.

    Returns True when it was applied. A new head commit makes GitHub's earlier
    mergeability verdict stale ("checking"); a merge or close ends a conflict.
    """
    updated_at = parse_time(pr.get("updated_at"))
    if submission.pr_updated_at and updated_at and updated_at < submission.pr_updated_at:
        return False
    previous_sha = submission.head_sha
    submission.pr_updated_at = updated_at or submission.pr_updated_at
    submission.title = (pr.get("title") or submission.title)[:300]
    submission.head_ref = (pr.get("head") or {}).get("ref", submission.head_ref)[:255]
    submission.head_sha = (pr.get("head") or {}).get("sha", submission.head_sha)
    submission.pr_open = pr.get("state", "open") == "open"
    submission.pr_draft = bool(pr.get("draft"))
    submission.opened_at = parse_time(pr.get("created_at")) or submission.opened_at
    submission.closed_at = parse_time(pr.get("closed_at"))
    submission.merged_at = parse_time(pr.get("merged_at")) if pr.get("merged") or pr.get("merged_at") else None
    mergeable_state = pr.get("mergeable_state")
    if submission.merged_at or not submission.pr_open:
        submission.has_conflict = submission.conflict_checking = False
    elif mergeable_state and mergeable_state != "unknown":
        submission.has_conflict = mergeable_state == "dirty"
        submission.conflict_checking = False
    elif previous_sha and submission.head_sha != previous_sha:
        # GitHub sends null/"unknown" right after a push while it recomputes.
        submission.has_conflict = False
        submission.conflict_checking = True
    author = pr.get("user") or {}
    if author.get("login"):
        submission_check_author(
            submission=submission, author_login=author["login"], author_id=_int_or_none(author.get("id"))
        )
    return True


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
    evidence: dict[str, Any] | None = None,
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
        comment_due(submission=submission, kind=CommentKind.COMPLETED)
    if created:
        step_sync_completion(membership=membership, step=exercise.step, at=at)
    return completion


def step_sync_completion(*, membership: Membership, step: RoadmapStep, at: datetime | None = None) -> None:
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
    delivery: WebhookDelivery | None = None,
    url: str = "",
) -> None:
    TimelineEvent.objects.get_or_create(
        submission=submission,
        delivery=delivery,
        kind=kind,
        defaults={"actor_login": actor, "summary": summary[:300], "occurred_at": at or timezone.now(), "url": url},
    )
