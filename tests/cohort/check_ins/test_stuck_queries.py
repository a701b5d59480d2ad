"""Who-is-stuck and agenda pages run a fixed number of queries, whatever the number of learners."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from cohort.check_ins.stuck import STUCK_PAGE_SIZE
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

# Session, user, membership, the nav badge, steps, ended sessions, every learner's figures, the page's
# learners, their blockers.
STUCK_PAGE_QUERIES = 9
# Session, user, membership, the nav badge, next session, its topics, top questions, blocked steps, their blockers.
AGENDA_PAGE_QUERIES = 9
# Session, user, membership, steps, own progress (the form's steps and current step), own check-ins.
CHECK_IN_PAGE_QUERIES = 6

SIZES = [pytest.param(5, id="5-learners"), pytest.param(200, id="200-learners")]


def _seed(cohort: Cohort, steps: list[RoadmapStep], count: int) -> None:
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


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    "query",
    [
        pytest.param({}, id="default"),
        pytest.param({"sort": "inactive", "days": "5"}, id="inactive"),
        pytest.param({"sort": "submissions"}, id="submissions"),
        pytest.param({"sort": "missed", "inactive": "1"}, id="missed-inactive"),
        pytest.param({"sort": "name", "blocked": "1", "step": "step-1"}, id="name-blocked-step"),
    ],
)
def test_stuck_page_query_count_constant(world, size, query, django_assert_num_queries):
    _seed(world.cohort, world.steps, size)
    client = world.client_for(world.lead)

    with django_assert_num_queries(STUCK_PAGE_QUERIES):
        response = client.get(f"/c/{world.cohort.slug}/lead/stuck/", query)

    assert response.status_code == 200
    stuck = response.context["stuck"]
    assert stuck.summary.learners == size + 2
    assert stuck.summary.blocked == len(range(0, size, 3))
    if not query:
        assert len(stuck.rows) == min(size + 2, STUCK_PAGE_SIZE)
        assert stuck.rows[0].blockers  # the blocked learners come first, with their texts


@pytest.mark.parametrize("size", SIZES)
def test_agenda_page_query_count_constant(world, size, django_assert_num_queries):
    _seed(world.cohort, world.steps, size)
    client = world.client_for(world.lead)

    with django_assert_num_queries(AGENDA_PAGE_QUERIES):
        response = client.get(f"/c/{world.cohort.slug}/lead/agenda/")

    assert response.status_code == 200
    agenda = response.context["agenda"]
    assert agenda.next_session.number == 5  # session 4 started as the data was seeded
    assert agenda.questions and agenda.steps


@pytest.mark.parametrize("size", SIZES)
def test_check_in_page_query_count_constant(world, size, django_assert_num_queries):
    _seed(world.cohort, world.steps, size)
    CheckIn.objects.bulk_create(
        CheckIn(membership=world.alice_membership, step=world.steps[0], status="on_track", done_text=f"day {i}")
        for i in range(size)
    )
    client = world.client_for(world.alice)

    with django_assert_num_queries(CHECK_IN_PAGE_QUERIES):
        response = client.get(f"/c/{world.cohort.slug}/check-ins/")

    assert response.status_code == 200
    assert all(c.membership_id == world.alice_membership.pk for c in response.context["check_ins"])
