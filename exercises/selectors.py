"""Reads for exercise pages; fixed query counts whatever the cohort size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from cohort.models import Cohort, Membership, RoadmapStep, Role
from exercises.github import parse_time
from exercises.models import (
    CommentStatus,
    Exercise,
    ExerciseCompletion,
    PullRequestComment,
    Submission,
    SubmissionState,
    WebhookDelivery,
)

OPEN_STATES = (SubmissionState.OPEN, SubmissionState.CHANGES_REQUESTED, SubmissionState.APPROVED, SubmissionState.DRAFT)


@dataclass(frozen=True)
class ExerciseStatus:
    exercise: Exercise
    completion: ExerciseCompletion | None
    latest: Submission | None

    @property
    def done(self) -> bool:
        return self.completion is not None


def exercise_for(*, cohort: Cohort, slug: str) -> Exercise | None:
    return Exercise.objects.select_related("cohort", "step").filter(cohort=cohort, slug=slug).first()


def exercise_statuses(*, membership: Membership, step: RoadmapStep | None = None) -> list[ExerciseStatus]:
    exercises = Exercise.objects.filter(cohort_id=membership.cohort_id).select_related("cohort", "step")
    if step is not None:
        exercises = exercises.filter(step=step)
    completions = {c.exercise_id: c for c in ExerciseCompletion.objects.filter(membership=membership)}
    latest: dict[int, Submission] = {}
    for submission in Submission.objects.filter(membership=membership).order_by("linked_at"):
        latest[submission.exercise_id] = submission
    return [ExerciseStatus(e, completions.get(e.pk), latest.get(e.pk)) for e in exercises]


def submissions_for(*, membership: Membership, exercise: Exercise | None = None) -> QuerySet[Submission]:
    qs = Submission.objects.filter(membership=membership).select_related("exercise__step")
    return qs.filter(exercise=exercise) if exercise is not None else qs


def submission_visible_to(*, viewer: Membership, submission_id: int) -> Submission | None:
    """A learner sees their own submissions; leads and mentors see their cohort's."""
    qs = Submission.objects.select_related("exercise__step", "exercise__cohort", "membership__user").filter(
        pk=submission_id, membership__cohort_id=viewer.cohort_id
    )
    if not viewer.is_staff_role:
        qs = qs.filter(membership=viewer)
    return qs.first()


def review_queue(*, cohort: Cohort) -> list[Submission]:
    """Open submissions, the longest waiting first."""
    rows = (
        Submission.objects.filter(membership__cohort=cohort, state__in=OPEN_STATES, refused_reason="")
        .select_related("exercise__step", "membership__user")
        .order_by("opened_at", "linked_at")
    )
    return list(rows)


@dataclass
class CompletionMatrix:
    exercises: list[Exercise]
    rows: list[tuple[Membership, list[ExerciseCompletion | None]]]


def completion_matrix(*, cohort: Cohort) -> CompletionMatrix:
    exercises = list(Exercise.objects.filter(cohort=cohort).select_related("step"))
    learners = list(
        Membership.objects.filter(cohort=cohort, role=Role.LEARNER)
        .select_related("user")
        .order_by("user__name", "user__email")
    )
    done = {(c.membership_id, c.exercise_id): c for c in ExerciseCompletion.objects.filter(exercise__cohort=cohort)}
    rows = [(m, [done.get((m.pk, e.pk)) for e in exercises]) for m in learners]
    return CompletionMatrix(exercises=exercises, rows=rows)


def pull_request_snapshot(*, repository: str, number: int) -> dict[str, Any] | None:
    """The newest `pull_request` object GitHub has sent for this PR (by its updated_at), or None."""
    payloads = WebhookDelivery.objects.filter(
        event__in=("pull_request", "pull_request_review"),
        payload__pull_request__number=number,
        payload__repository__full_name__iexact=repository,
    ).values_list("payload", flat=True)[:100]
    snapshots = [p["pull_request"] for p in payloads if isinstance(p.get("pull_request"), dict)]
    timed = [
        (at, pr)
        for pr in snapshots
        if isinstance(pr.get("updated_at"), str) and (at := _time_or_none(pr["updated_at"]))
    ]
    return max(timed, key=lambda pair: pair[0])[1] if timed else None


def _time_or_none(value: str) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        return None


def comments_not_posted(*, cohort: Cohort) -> list[PullRequestComment]:
    """Comments GitHub has not taken yet (waiting out an outage, or refused), for the leads."""
    return list(
        PullRequestComment.objects.filter(
            submission__membership__cohort=cohort, status__in=(CommentStatus.PENDING, CommentStatus.FAILED)
        )
        .select_related("submission__membership__user")
        .order_by("status", "created_at")[:50]
    )


def github_accounts(*, cohort: Cohort) -> list[Membership]:
    """The cohort's learners with their GitHub usernames, unconfirmed ones first."""
    return list(
        Membership.objects.filter(cohort=cohort, role=Role.LEARNER)
        .select_related("user")
        .order_by("user__github_confirmed_at", "user__name", "user__email")
    )


def cohort_member(*, cohort: Cohort, membership_id: int) -> Membership | None:
    return Membership.objects.select_related("user").filter(cohort=cohort, pk=membership_id).first()
