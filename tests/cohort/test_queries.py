"""The dashboard and the lead overview run a fixed number of queries, whatever the cohort size."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from cohort.models import Cohort, Membership, RoadmapStep, Role, StepProgress, User
from cohort.selectors import OVERVIEW_PAGE_SIZE
from tests.factories import CohortFactory, MembershipFactory, StepFactory

# Session, user, the user's cohorts (one read picks the cohort and fills the switcher), steps, own
# progress, then the exercises panel: completions, submissions, exercises.
DASHBOARD_QUERIES = 12  # ...then the office-hours panel (next session, latest recap), the recent sandbox runs
# and the cohort's open live experiments (the "Run the lead's experiment" card).
# ...and the check-in card: the learner's latest check-ins (+1).
# Session, user, membership, steps, members, learners' progress, pending invitations.
LEAD_OVERVIEW_QUERIES = (
    11  # session, user, membership, steps, count, page, its progress, done per step, staff, invitations,
    # and the nav's "who is stuck" badge (learners with an open blocker)
)

# Warm, every panel comes from the cache ("Coming up", the roadmap and progress, the check-in card, the open
# experiments): session, user and the user's cohorts remain.
DASHBOARD_QUERIES_WARM = 3
# Warm, the summary, the table and the nav badge come from the cache: session, user, membership.
LEAD_OVERVIEW_QUERIES_WARM = 3

SIZES = [pytest.param(5, id="5-learners"), pytest.param(200, id="200-learners")]


def _add_learners(cohort: Cohort, steps: list[RoadmapStep], count: int) -> None:
    """`count` learners with a spread of progress, in three bulk inserts."""
    now = timezone.now()
    password = make_password(None)  # unusable: these learners never sign in
    users = User.objects.bulk_create(
        User(email=f"crowd{i}@example.com", name=f"Crowd {i:03d}", github_username=f"crowd-{i}", password=password)
        for i in range(count)
    )
    memberships = Membership.objects.bulk_create(
        Membership(user=user, cohort=cohort, role=Role.LEARNER, last_activity_at=now - dt.timedelta(hours=i))
        for i, user in enumerate(users)
    )
    progress = []
    for i, membership in enumerate(memberships):
        # Learner i has touched the first i % (len(steps) + 1) steps and finished all but the last of them.
        touched = steps[: i % (len(steps) + 1)]
        for j, step in enumerate(touched):
            done = j < len(touched) - 1
            progress.append(
                StepProgress(
                    membership=membership,
                    step=step,
                    started_at=now - dt.timedelta(days=7),
                    completed_at=now - dt.timedelta(days=1) if done else None,
                    focused_at=None if done else now - dt.timedelta(days=2),
                    last_activity_at=now - dt.timedelta(days=1),
                )
            )
    StepProgress.objects.bulk_create(progress)


@pytest.fixture
def steps(world) -> list[RoadmapStep]:
    """The world's three steps plus two more, so progress rows spread over five."""
    extra = [StepFactory(cohort=world.cohort, position=i, code=f"Step {i}", slug=f"step-{i}") for i in (4, 5)]
    return [*world.steps, *extra]


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_query_count_constant(world, steps, size, django_assert_num_queries):
    _add_learners(world.cohort, steps, size)
    StepProgress.objects.create(membership=world.alice_membership, step=steps[0], started_at=timezone.now())
    # An older second cohort, so the cohort switcher renders and `/` still lands on cohort A.
    MembershipFactory(
        user=world.alice, cohort=CohortFactory(starts_on=dt.date(2025, 9, 1), ends_on=dt.date(2025, 12, 19))
    )
    client = world.client_for(world.alice)

    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get("/")
    with django_assert_num_queries(DASHBOARD_QUERIES_WARM):
        client.get("/")

    assert response.status_code == 200
    assert response.context["cohort"] == world.cohort
    assert response.context["roadmap"].current.step == steps[0]


@pytest.mark.parametrize("size", SIZES)
def test_lead_overview_query_count_constant(world, steps, size, django_assert_num_queries):
    _add_learners(world.cohort, steps, size)
    client = world.client_for(world.lead)

    with django_assert_num_queries(LEAD_OVERVIEW_QUERIES):
        response = client.get(f"/c/{world.cohort.slug}/lead/")
    with django_assert_num_queries(LEAD_OVERVIEW_QUERIES_WARM):
        warm = client.get(f"/c/{world.cohort.slug}/lead/")
    table = warm.content.decode()
    assert (
        table[table.index('<table class="matrix">') :]
        == response.content.decode()[table.index('<table class="matrix">') :]
    )

    assert response.status_code == 200
    overview = response.context["overview"]
    assert overview.learner_count == size + 2  # the crowd plus alice and bob
    assert len(overview.rows) == min(size + 2, OVERVIEW_PAGE_SIZE)
    assert sum(overview.done_per_step.values()) == StepProgress.objects.filter(completed_at__isnull=False).count()
    assert "Crowd 000" in response.content.decode()
