"""Who-is-stuck and agenda pages run a fixed number of queries, whatever the number of learners."""

from __future__ import annotations

import pytest

from cohort.check_ins.stuck import STUCK_PAGE_SIZE
from cohort.models import (
    CheckIn,
)
from tests.cohort.busy_cohort import SIZES, seed_busy_cohort

# Session, user, membership, the nav badge, then the cached table (steps, ended sessions, every learner's
# figures, the page's learners, their blockers) and the cached filter form (steps).
STUCK_PAGE_QUERIES = 10
# Warm, the table, the filter form and the nav badge come from the cache: session, user, membership.
STUCK_PAGE_QUERIES_WARM = 3
# Session, user, membership, the nav badge, next session, its topics, top questions, blocked steps, their blockers.
AGENDA_PAGE_QUERIES = 9
# Session, user, membership, steps, own progress (the form's steps and current step), own check-ins.
CHECK_IN_PAGE_QUERIES = 6


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
    seed_busy_cohort(world.cohort, world.steps, size)
    client = world.client_for(world.lead)

    with django_assert_num_queries(STUCK_PAGE_QUERIES):
        response = client.get(f"/c/{world.cohort.slug}/lead/stuck/", query)
    with django_assert_num_queries(STUCK_PAGE_QUERIES_WARM):
        warm = client.get(f"/c/{world.cohort.slug}/lead/stuck/", query)

    assert response.status_code == 200
    body = response.content.decode()
    assert _table(warm.content.decode()) == _table(body)
    assert f'aria-label="Across all {size + 2} learners"' in body
    assert f"<strong>{len(range(0, size, 3))}</strong> with an open blocker" in body
    if not query:
        assert body.count('class="learner-name"') == min(size + 2, STUCK_PAGE_SIZE)
        first_row = body[body.index("<tbody>") : body.index("</tr>", body.index("<tbody>"))]
        assert 'class="has-blocker"' in first_row  # the blocked learners come first, with their texts


def _table(body: str) -> str:
    """The cached part of the page (the CSRF token elsewhere is masked anew on each response)."""
    return body[body.index('<ul class="stuck-summary"') : body.index("</table>")]


@pytest.mark.parametrize("size", SIZES)
def test_agenda_page_query_count_constant(world, size, django_assert_num_queries):
    seed_busy_cohort(world.cohort, world.steps, size)
    client = world.client_for(world.lead)

    with django_assert_num_queries(AGENDA_PAGE_QUERIES):
        response = client.get(f"/c/{world.cohort.slug}/lead/agenda/")

    assert response.status_code == 200
    agenda = response.context["agenda"]
    assert agenda.next_session.number == 5  # session 4 started as the data was seeded
    assert agenda.questions and agenda.steps


@pytest.mark.parametrize("size", SIZES)
def test_check_in_page_query_count_constant(world, size, django_assert_num_queries):
    seed_busy_cohort(world.cohort, world.steps, size)
    CheckIn.objects.bulk_create(
        CheckIn(membership=world.alice_membership, step=world.steps[0], status="on_track", done_text=f"day {i}")
        for i in range(size)
    )
    client = world.client_for(world.alice)

    with django_assert_num_queries(CHECK_IN_PAGE_QUERIES):
        response = client.get(f"/c/{world.cohort.slug}/check-ins/")

    assert response.status_code == 200
    assert all(c.membership_id == world.alice_membership.pk for c in response.context["check_ins"])
