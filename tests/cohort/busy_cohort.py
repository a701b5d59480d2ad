"""A cohort with many learners and every figure the lead pages show, for the fixed-query-count tests."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from cohort.models import (
    CheckIn,
    CheckInStatus,
    Cohort,
    Membership,
    OfficeHoursSession,
    QuestionVote,
    RoadmapStep,
    Role,
    SessionAttendance,
    SessionQuestion,
    SessionRSVP,
    SessionStatus,
    StepProgress,
    User,
)
from exercises.models import Exercise, Review, Submission, SubmissionState

SIZES = [pytest.param(5, id="5-learners"), pytest.param(200, id="200-learners")]


def seed_busy_cohort(cohort: Cohort, steps: list[RoadmapStep], count: int) -> None:
    """`count` learners with every figure the page shows: progress, blockers, pull requests, sessions."""
    now = timezone.now()
    password = make_password(None)
    users = User.objects.bulk_create(
        User(email=f"stuck{i}@example.com", name=f"Stuck {i:03d}", github_username=f"stuck-{i}", password=password)
        for i in range(count)
    )
    members = Membership.objects.bulk_create(
        Membership(
            user=u,
            cohort=cohort,
            role=Role.LEARNER,
            joined_at=now - dt.timedelta(days=40),
            last_activity_at=None if i % 7 == 0 else now - dt.timedelta(hours=5 * i),
        )
        for i, u in enumerate(users)
    )
    StepProgress.objects.bulk_create(
        StepProgress(
            membership=m,
            step=steps[i % len(steps)],
            started_at=now - dt.timedelta(days=3),
            focused_at=now - dt.timedelta(days=2) if i % 2 else None,
            completed_at=now - dt.timedelta(days=1) if i % 5 == 0 else None,
        )
        for i, m in enumerate(members)
    )
    CheckIn.objects.bulk_create(
        CheckIn(
            membership=m,
            step=steps[i % len(steps)],
            status=CheckInStatus.BLOCKED if i % 3 == 0 else CheckInStatus.ON_TRACK,
            done_text="did things",
            blocker_text="a blocker " * 40 if i % 3 == 0 else "",
            created_at=now - dt.timedelta(hours=i),
        )
        for i, m in enumerate(members)
        for _ in range(2)
    )
    exercise = Exercise.objects.create(cohort=cohort, step=steps[0], title="PR", slug=f"pr-{count}")
    submissions = Submission.objects.bulk_create(
        Submission(
            membership=m,
            exercise=exercise,
            repository="first-break-ai/practice",
            pr_number=i + 1,
            pr_url=f"https://github.com/first-break-ai/practice/pull/{i + 1}",
            state=SubmissionState.CHANGES_REQUESTED if i % 2 else SubmissionState.OPEN,
            opened_at=now - dt.timedelta(days=i % 9),
        )
        for i, m in enumerate(members)
        if i % 4 == 0
    )
    Review.objects.bulk_create(
        Review(submission=s, github_id=s.pk, reviewer_login="lead", state="changes_requested", submitted_at=now)
        for s in submissions
        if s.state == SubmissionState.CHANGES_REQUESTED
    )
    sessions = OfficeHoursSession.objects.bulk_create(
        OfficeHoursSession(
            cohort=cohort,
            number=n,
            title=f"Session {n}",
            starts_at=now + dt.timedelta(days=7 * (n - 4)),
            status=SessionStatus.ENDED if n < 4 else SessionStatus.SCHEDULED,
        )
        for n in range(1, 6)
    )
    SessionAttendance.objects.bulk_create(
        SessionAttendance(session=s, membership=m) for s in sessions[:3] for i, m in enumerate(members) if i % 2
    )
    SessionRSVP.objects.bulk_create(SessionRSVP(session=s, membership=m) for s in sessions for m in members[::3])
    questions = SessionQuestion.objects.bulk_create(
        SessionQuestion(session=sessions[4 - i % 2], author=m, body=f"Question {i}?\nDetails.")
        for i, m in enumerate(members)
    )
    QuestionVote.objects.bulk_create(
        QuestionVote(question=q, voter=members[(i + j + 1) % len(members)])
        for i, q in enumerate(questions)
        for j in range(min(i % 6, len(members) - 1))
    )
