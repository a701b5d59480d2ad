"""The live help queue's reads (queue_selectors) and the polling endpoints built on them, with their query counts."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from cohort.models import HelpRequest, Membership, SessionStatus
from cohort.office_hours import live_services as services
from cohort.office_hours import queue_selectors
from cohort.office_hours import services as office_hours
from tests.factories import MembershipFactory, SessionFactory
from tests.helpers import HTMX, _join, _live, cohort_url

pytestmark = pytest.mark.django_db


# --- Reads ------------------------------------------------------------------------------


def _queue_of(world, session, count: int) -> list[Membership]:  # type: ignore[no-untyped-def]
    members = [world.alice_membership, world.bob_membership] + [
        MembershipFactory(cohort=world.cohort) for _ in range(count - 2)
    ]
    start = timezone.now() - dt.timedelta(minutes=30)
    for i, member in enumerate(members):
        services.help_request_join(
            session=session, membership=member, description=f"request {i}", at=start + dt.timedelta(minutes=i)
        )
    return members


def test_learner_queue_position_counts_only_waiting_ahead(world, django_assert_num_queries):
    session = _live(world)
    members = _queue_of(world, session, 5)
    first = HelpRequest.objects.get(membership=members[0])
    services.help_request_take(session=session, request=first, helper=world.lead)
    services.help_request_leave(session=session, membership=members[2])

    # The queue read, plus the cohort's past help times: nobody was helped in this session yet (estimated wait).
    with django_assert_num_queries(2):
        view = queue_selectors.learner_queue(session=session, viewer=members[3])
    helped = queue_selectors.learner_queue(session=session, viewer=members[0])

    assert (view.mode, view.position, view.waiting_count) == ("waiting", 2, 3)
    assert view.description == "request 3"
    assert (helped.mode, helped.position, helped.helper_name) == ("helping", None, world.lead.display_name)


def test_learner_queue_never_reads_other_descriptions(world):
    session = _live(world)
    _join(session, world.alice_membership, "alice's secret traceback")

    bob = queue_selectors.learner_queue(session=session, viewer=world.bob_membership)

    assert (bob.mode, bob.waiting_count, bob.description) == ("join", 1, "")
    assert "secret" not in repr(bob)


def test_learner_queue_modes_follow_the_session(world):
    session = SessionFactory(cohort=world.cohort, number=1, starts_at=timezone.now() + dt.timedelta(days=2))

    soon = queue_selectors.learner_queue(session=session, viewer=world.alice_membership)
    session.status = SessionStatus.ENDED

    assert (soon.mode, soon.poll) == ("soon", "60s")
    assert queue_selectors.learner_queue(session=session, viewer=world.alice_membership).mode == "closed"


def test_learner_queue_polls_faster_as_the_start_nears_and_stops_once_over(world):
    session = SessionFactory(cohort=world.cohort, number=1, starts_at=timezone.now() + dt.timedelta(minutes=20))
    close = queue_selectors.learner_queue(session=session, viewer=world.alice_membership)
    session.starts_at = timezone.now() - dt.timedelta(hours=2)  # the lead never started it

    never_started = queue_selectors.learner_queue(session=session, viewer=world.alice_membership)

    assert (close.mode, close.poll) == ("soon", "5s")
    assert (never_started.mode, never_started.poll) == ("closed", "")


def test_learner_queue_key_changes_exactly_when_the_view_does(world):
    session = _live(world)
    _join(session, world.bob_membership)
    _join(session, world.alice_membership)
    before = queue_selectors.learner_queue(session=session, viewer=world.alice_membership)

    carol = MembershipFactory(cohort=world.cohort)
    _join(session, carol)  # behind alice: her view does not change
    after_carol = queue_selectors.learner_queue(session=session, viewer=world.alice_membership)
    bob_request = HelpRequest.objects.get(membership=world.bob_membership)
    services.help_request_take(session=session, request=bob_request, helper=world.lead)
    after_take = queue_selectors.learner_queue(session=session, viewer=world.alice_membership)

    assert before.position == 2
    assert after_carol.key != before.key  # the queue length she sees went from 2 to 3
    assert (after_take.position, after_take.key != after_carol.key) == (1, True)
    assert queue_selectors.learner_queue(session=session, viewer=world.alice_membership).key == after_take.key


def test_staff_queue_orders_by_join_time_or_first_timers_first(world):
    session = _live(world)
    earlier = SessionFactory(cohort=world.cohort, number=9, status=SessionStatus.ENDED)
    members = [MembershipFactory(cohort=world.cohort) for _ in range(5)]
    for member in members[0], members[2]:  # these two asked before, in an earlier session
        HelpRequest.objects.create(session=earlier, membership=member, description="old", status="done")
    start = timezone.now() - dt.timedelta(minutes=10)
    for i, member in enumerate(members):
        services.help_request_join(
            session=session, membership=member, description=f"r{i}", at=start + dt.timedelta(minutes=i)
        )

    plain = queue_selectors.staff_queue(session=session)
    first = queue_selectors.staff_queue(session=session, first_time_first=True)

    assert [r.description for r in plain.waiting] == ["r0", "r1", "r2", "r3", "r4"]
    assert [r.description for r in first.waiting] == ["r1", "r3", "r4", "r0", "r2"]
    assert plain.key != first.key


def test_staff_queue_groups_requests_and_its_key_matches_the_light_key(world, django_assert_num_queries):
    session = _live(world)
    members = _queue_of(world, session, 4)
    requests = {r.membership_id: r for r in HelpRequest.objects.all()}
    services.help_request_take(session=session, request=requests[members[0].pk], helper=world.lead)
    services.help_request_take(session=session, request=requests[members[1].pk], helper=world.lead)
    services.help_request_finish(session=session, request=requests[members[1].pk])
    services.help_request_leave(session=session, membership=members[2])
    now = timezone.now()

    with django_assert_num_queries(1):
        queue = queue_selectors.staff_queue(session=session, now=now)
        names = [r.membership.user.display_name for r in queue.helping + queue.waiting + queue.finished]
        helpers = [r.helped_by.display_name for r in queue.helping]
    key, poll = queue_selectors.staff_queue_key(session=session, first_time_first=False, now=now)

    assert [r.membership_id for r in queue.helping] == [members[0].pk]
    assert [r.membership_id for r in queue.waiting] == [members[3].pk]
    assert {r.membership_id for r in queue.finished} == {members[1].pk, members[2].pk}
    assert len(names) == 4 and helpers == [world.lead.display_name]
    assert (key, poll) == (queue.key, "1s")


# --- Polling ----------------------------------------------------------------------------

# Session, user, membership, the office-hours session, then the queue read, and (nobody helped yet in this
# session) the cohort's past help times for the estimated wait.
LEARNER_POLL_QUERIES = 6
# The same, with the light key query; one more (the requests with capsules) only when something changed.
STAFF_POLL_UNCHANGED_QUERIES = 5
STAFF_POLL_CHANGED_QUERIES = 6


@pytest.mark.parametrize("count", [pytest.param(3, id="3-waiting"), pytest.param(60, id="60-waiting")])
def test_learner_poll_query_count_is_constant(world, count, django_assert_num_queries):
    session = _live(world)
    _queue_of(world, session, count)
    client = world.client_for(world.bob)
    url = cohort_url("help_queue", "cohort-a", 1) + "?m=waiting&v=stale"

    with django_assert_num_queries(LEARNER_POLL_QUERIES):
        response = client.get(url, **HTMX)

    assert response.status_code == 200
    assert "You are number 2 in the queue" in response.content.decode()


def _away_from_a_minute_boundary() -> None:
    # The staff key includes the minute ("waiting 4 minutes"); keep the test's few requests inside one minute.
    seconds = timezone.now().second
    if seconds >= 55:
        time.sleep(61 - seconds)


@pytest.mark.parametrize("count", [pytest.param(3, id="3-waiting"), pytest.param(60, id="60-waiting")])
def test_staff_poll_query_count_is_constant(world, count, django_assert_num_queries):
    session = _live(world)
    _queue_of(world, session, count)
    client = world.client_for(world.lead)
    _away_from_a_minute_boundary()
    key, _poll = queue_selectors.staff_queue_key(session=session, first_time_first=False)
    base = cohort_url("help_queue", "cohort-a", 1)

    with django_assert_num_queries(STAFF_POLL_CHANGED_QUERIES):
        changed = client.get(base + "?first=0&v=stale", **HTMX)
    with django_assert_num_queries(STAFF_POLL_UNCHANGED_QUERIES):
        unchanged = client.get(base + f"?first=0&v={key}", **HTMX)

    assert changed.status_code == 200
    assert changed.content.decode().count('class="help-request is-waiting"') == count
    assert unchanged.status_code == 204


def test_learner_poll_answers_204_until_the_position_changes(world):
    session = _live(world)
    _join(session, world.bob_membership)
    _join(session, world.alice_membership)
    client = world.client_for(world.alice)
    base = cohort_url("help_queue", "cohort-a", 1)
    first = client.get(base, **HTMX)
    poll_url = first.context["queue"]
    query = f"?m={poll_url.mode}&v={poll_url.key}"

    same = client.get(base + query, **HTMX)
    services.help_request_take(
        session=session, request=HelpRequest.objects.get(membership=world.bob_membership), helper=world.lead
    )
    moved = client.get(base + query, **HTMX)

    assert "You are number 2 in the queue" in first.content.decode()
    assert same.status_code == 204 and same.content == b""
    assert moved.status_code == 200
    html = moved.content.decode()
    assert html.lstrip().startswith('<div id="help-queue-status"')  # only the status line: a form is not swapped
    assert "You are number 1 in the queue" in html
    assert "HX-Retarget" not in moved


def test_learner_poll_sends_the_whole_panel_when_the_mode_changes(world):
    session = _live(world)
    request, _ = _join(session, world.alice_membership)
    client = world.client_for(world.alice)
    services.help_request_take(session=session, request=request, helper=world.lead)
    services.help_request_finish(session=session, request=request)

    helped = client.get(cohort_url("help_queue", "cohort-a", 1) + "?m=waiting&v=old", **HTMX)
    office_hours.session_set_status(session=session, status=SessionStatus.ENDED)
    ended = client.get(cohort_url("help_queue", "cohort-a", 1) + "?m=join&v=old", **HTMX)

    assert (helped["HX-Retarget"], helped["HX-Reswap"]) == ("#help-queue", "outerHTML")
    assert "HX-Trigger" not in helped  # still live: the check-in panel need not refresh
    assert "A lead helped you in this session" in helped.content.decode()
    assert 'name="description"' in helped.content.decode()  # the join form is back
    assert ended["HX-Trigger"] == "live-session-changed"
    assert "help queue is closed" in ended.content.decode()


def test_queue_panel_without_htmx_redirects_to_the_live_page(world):
    _live(world)

    response = world.client_for(world.alice).get(cohort_url("help_queue", "cohort-a", 1))

    assert response.status_code == 302
    assert response.url == cohort_url("session_live", "cohort-a", 1) + "#help-queue"
