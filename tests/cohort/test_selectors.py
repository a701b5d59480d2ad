"""The reads behind the dashboard and the lead overview."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser

from cohort import selectors, services
from cohort.models import Invitation, Membership, ProgressStatus, Role, User
from tests.factories import CohortFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def _names(overview) -> list[str]:  # type: ignore[no-untyped-def]
    return [row.membership.user.name for row in overview.rows]


@pytest.fixture
def progress_world(world):
    """Alice finished two steps and was active yesterday; Bob is on step 1 today; Carol never started."""
    carol = MembershipFactory(cohort=world.cohort, user=UserFactory(name="Carol", github_username="carol-codes"))
    for step in world.steps[:2]:
        services.progress_set_completed(membership=world.alice_membership, step=step, completed=True, at=T0)
    services.progress_record_activity(
        membership=world.alice_membership, step=world.steps[1], at=T0 - dt.timedelta(days=1)
    )
    services.progress_focus_step(membership=world.bob_membership, step=world.steps[0], at=T0)
    world.carol_membership = carol
    return world


# --- Member reads -------------------------------------------------------------------


def test_membership_for_anonymous_is_none(world):
    assert selectors.membership_for(user=AnonymousUser(), cohort_slug="cohort-a") is None


def test_membership_for_outsider_is_none(world):
    assert selectors.membership_for(user=world.outsider, cohort_slug="cohort-a") is None


def test_primary_membership_is_latest_cohort(world):
    later = CohortFactory(starts_on=dt.date(2026, 9, 1), ends_on=dt.date(2026, 12, 1))
    MembershipFactory(user=world.alice, cohort=later)

    assert selectors.primary_membership(user=world.alice).cohort == later
    assert [m.cohort for m in selectors.memberships_for_user(user=world.alice)] == [later, world.cohort]


def test_roadmap_for_lists_steps_in_order_with_own_status(progress_world):
    roadmap = selectors.roadmap_for(membership=progress_world.alice_membership)

    assert [s.step for s in roadmap.steps] == progress_world.steps
    assert [s.status for s in roadmap.steps] == [ProgressStatus.DONE, ProgressStatus.DONE, ProgressStatus.NOT_STARTED]
    assert roadmap.current.step == progress_world.steps[2]
    assert roadmap.percent_done == 67


def test_step_progress_for_reports_current_step(progress_world):
    item = selectors.step_progress_for(membership=progress_world.bob_membership, step=progress_world.steps[0])

    assert item.is_current
    assert item.status == ProgressStatus.IN_PROGRESS
    assert item.status_label == "In progress"


# --- Lead overview ------------------------------------------------------------------


def test_cohort_overview_matrix_has_learners_by_steps(progress_world):
    overview = selectors.cohort_overview(cohort=progress_world.cohort)

    matrix = {row.membership.user.name: [s.status for s in row.steps] for row in overview.rows}
    assert matrix == {
        "Alice": [ProgressStatus.DONE, ProgressStatus.DONE, ProgressStatus.NOT_STARTED],
        "Bob": [ProgressStatus.IN_PROGRESS, ProgressStatus.NOT_STARTED, ProgressStatus.NOT_STARTED],
        "Carol": [ProgressStatus.NOT_STARTED] * 3,
    }
    assert overview.steps == progress_world.steps
    assert overview.done_per_step == {
        progress_world.steps[0].pk: 1,
        progress_world.steps[1].pk: 1,
        progress_world.steps[2].pk: 0,
    }


def test_cohort_overview_current_step_per_learner(progress_world):
    overview = selectors.cohort_overview(cohort=progress_world.cohort)

    current = {row.membership.user.name: row.current.step for row in overview.rows}
    assert current == {
        "Alice": progress_world.steps[2],
        "Bob": progress_world.steps[0],
        "Carol": progress_world.steps[0],
    }


def test_cohort_overview_staff_listed_apart_from_learners(progress_world):
    mentor = MembershipFactory(cohort=progress_world.cohort, role=Role.MENTOR)

    overview = selectors.cohort_overview(cohort=progress_world.cohort)

    assert {m.pk for m in overview.staff} == {
        mentor.pk,
        Membership.objects.get(user=progress_world.lead).pk,
    }
    assert "Alice" in _names(overview)
    assert mentor.user.name not in _names(overview)


def test_cohort_overview_counts_pending_invitations_only(progress_world):
    Invitation.objects.create(cohort=progress_world.cohort, email="a@example.com")
    Invitation.objects.create(cohort=progress_world.cohort, email="b@example.com", accepted_at=T0)

    overview = selectors.cohort_overview(cohort=progress_world.cohort)

    assert overview.pending_invitations == 1


def test_cohort_overview_ignores_other_cohorts(progress_world):
    overview = selectors.cohort_overview(cohort=progress_world.cohort)

    assert progress_world.outsider.pk not in [row.membership.user.pk for row in overview.rows]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Alice", "Bob", "Carol"]),
        ("progress", ["Alice", "Bob", "Carol"]),
        ("activity", ["Bob", "Alice", "Carol"]),
        ("inactive", ["Carol", "Alice", "Bob"]),
        ("unknown-sort", ["Alice", "Bob", "Carol"]),
    ],
)
def test_cohort_overview_sorts(progress_world, sort, expected):
    overview = selectors.cohort_overview(cohort=progress_world.cohort, sort=sort)

    assert _names(overview) == expected


def test_cohort_overview_progress_sort_puts_most_done_first(progress_world):
    for step in progress_world.steps:
        services.progress_set_completed(membership=progress_world.carol_membership, step=step, completed=True, at=T0)

    overview = selectors.cohort_overview(cohort=progress_world.cohort, sort="progress")

    assert _names(overview) == ["Carol", "Alice", "Bob"]


def test_cohort_overview_name_sort_ignores_case(progress_world):
    User.objects.filter(pk=progress_world.bob.pk).update(name="aaron")

    overview = selectors.cohort_overview(cohort=progress_world.cohort, sort="name")

    assert _names(overview) == ["aaron", "Alice", "Carol"]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("bob@", ["Bob"]),
        ("CAROL-CO", ["Carol"]),
        ("ali", ["Alice"]),
        ("example.com", ["Alice", "Bob", "Carol"]),
        ("zzz", []),
    ],
)
def test_cohort_overview_search_by_email_name_or_github(progress_world, search, expected):
    overview = selectors.cohort_overview(cohort=progress_world.cohort, search=search)

    assert _names(overview) == expected


def test_cohort_overview_search_keeps_done_counts_of_matches_only(progress_world):
    overview = selectors.cohort_overview(cohort=progress_world.cohort, search="bob")

    assert overview.done_per_step[progress_world.steps[0].pk] == 0


def test_cohort_overview_pages_learners_in_sort_order(world):
    from tests.factories import MembershipFactory, UserFactory

    for n in range(selectors.OVERVIEW_PAGE_SIZE + 5):
        MembershipFactory(cohort=world.cohort, user=UserFactory(name=f"Zed {n:03d}"))

    first = selectors.cohort_overview(cohort=world.cohort, page=1)
    second = selectors.cohort_overview(cohort=world.cohort, page=2)

    assert first.learner_count == second.learner_count == selectors.OVERVIEW_PAGE_SIZE + 7
    assert len(first.rows) == selectors.OVERVIEW_PAGE_SIZE and len(second.rows) == 7
    assert [r.membership.user.name for r in first.rows][:2] == ["Alice", "Bob"]
    assert second.rows[-1].membership.user.name == f"Zed {selectors.OVERVIEW_PAGE_SIZE + 4:03d}"
    assert selectors.cohort_overview(cohort=world.cohort, page="nonsense").page.number == 1
