"""The live help queue: rules (cohort/office_hours/live_services.py), reads, the queue endpoints and their polling."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cohort.models import HelpRequest, HelpRequestStatus, Membership, OfficeHoursSession, Role, SessionStatus
from cohort.office_hours import live_services as services
from cohort.office_hours import queue_selectors
from cohort.office_hours import services as office_hours
from tests.factories import MembershipFactory, SessionFactory, UserFactory
from tests.helpers import HTMX, cohort_url

pytestmark = pytest.mark.django_db

SHA = "a3f1" * 16
LOG = 'Traceback (most recent call last):\n  File "run.py", line 3\n    llm = Llama(model_path=p)\nValueError: bad'


def _live(world, number: int = 1) -> OfficeHoursSession:  # type: ignore[no-untyped-def]
    session = SessionFactory(
        cohort=world.cohort,
        number=number,
        status=SessionStatus.LIVE,
        starts_at=timezone.now() - dt.timedelta(minutes=5),
    )
    session.leads.set([world.lead])
    return session


def _join(session, membership, description: str = "My build fails", **capsule):  # type: ignore[no-untyped-def]
    return services.help_request_join(
        session=session, membership=membership, description=description, capsule=services.Capsule(**capsule)
    )


def _lead_membership(world) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.get(cohort=world.cohort, user=world.lead)


def _rows() -> list[dict]:
    return list(HelpRequest.objects.order_by("pk").values())


# --- Joining ----------------------------------------------------------------------------


def test_join_stores_the_request_with_its_capsule_and_touches_activity(world):
    session = _live(world)

    request, created = _join(
        session,
        world.alice_membership,
        "  llama-cpp-python will not build  ",
        os="Ubuntu 24.04",
        python="3.12.3",
        compiler="gcc 13.2",
        llama_cpp="0.3.7",
        model_file="Qwen3-0.6B-Q8_0.gguf",
        model_sha256=SHA.upper(),
        command="pip install llama-cpp-python",
        error_log="\n" + LOG + "\n\n",
    )

    assert created is True
    request.refresh_from_db()
    assert request.description == "llama-cpp-python will not build"
    assert request.status == HelpRequestStatus.WAITING
    assert request.capsule_model_sha256 == SHA  # stored lower case
    assert request.capsule_error_log == LOG  # inner indentation kept, ends trimmed
    assert request.first_time is True
    world.alice_membership.refresh_from_db()
    assert world.alice_membership.last_activity_at == request.joined_at


def test_join_twice_keeps_the_first_place(world):
    session = _live(world)
    first, _ = _join(session, world.alice_membership, "first")

    again, created = _join(session, world.alice_membership, "second")

    assert created is False
    assert again.pk == first.pk
    assert list(HelpRequest.objects.values_list("description", flat=True)) == ["first"]


def test_join_while_being_helped_changes_nothing(world):
    session = _live(world)
    first, _ = _join(session, world.alice_membership)
    services.help_request_take(session=session, request=first, helper=world.lead)

    again, created = _join(session, world.alice_membership, "another")

    assert (again.pk, created) == (first.pk, False)
    assert HelpRequest.objects.count() == 1


def test_join_after_being_helped_is_a_new_place_and_not_first_time(world):
    session = _live(world)
    first, _ = _join(session, world.alice_membership)
    services.help_request_take(session=session, request=first, helper=world.lead)
    services.help_request_finish(session=session, request=first)

    second, created = _join(session, world.alice_membership, "stuck again")

    assert created is True
    assert second.pk != first.pk
    assert second.first_time is False


def test_first_time_looks_at_every_session_of_the_cohort_only(world):
    earlier = SessionFactory(cohort=world.cohort, number=1, status=SessionStatus.ENDED)
    HelpRequest.objects.create(
        session=earlier, membership=world.bob_membership, description="old", status=HelpRequestStatus.DONE
    )
    outsider = Membership.objects.get(user=world.outsider)
    other = SessionFactory(cohort=outsider.cohort, number=1, status=SessionStatus.LIVE)
    # Alice asked in another cohort too: that does not count in this one.
    alice_elsewhere = MembershipFactory(cohort=outsider.cohort, user=world.alice)
    _join(other, alice_elsewhere)
    session = _live(world, number=2)

    bob, _ = _join(session, world.bob_membership)
    alice, _ = _join(session, world.alice_membership)

    assert (bob.first_time, alice.first_time) == (False, True)


@pytest.mark.parametrize(
    ("status", "message"), [(SessionStatus.SCHEDULED, "opens when the lead starts"), (SessionStatus.ENDED, "has ended")]
)
def test_join_refused_unless_live(world, status, message):
    session = SessionFactory(cohort=world.cohort, number=1, status=status)

    with pytest.raises(services.LiveSessionError, match=message):
        _join(session, world.alice_membership)
    assert not HelpRequest.objects.exists()


@pytest.mark.parametrize(
    ("description", "capsule", "message"),
    [
        ("", {}, "what you are stuck on"),
        ("   ", {}, "what you are stuck on"),
        ("x" * 501, {}, "under 500"),
        ("ok", {"model_sha256": "abc"}, "64 hexadecimal"),
        ("ok", {"model_sha256": "g" * 64}, "64 hexadecimal"),
        ("ok", {"error_log": "e" * 20_001}, "under 20000"),
        ("ok", {"python": "3" * 61}, "under 60"),
    ],
    ids=["empty", "blank", "long-description", "short-sha", "non-hex-sha", "long-log", "long-python"],
)
def test_join_with_bad_input_changes_nothing(world, description, capsule, message):
    session = _live(world)

    with pytest.raises(services.LiveSessionError, match=message):
        _join(session, world.alice_membership, description, **capsule)
    assert not HelpRequest.objects.exists()


def test_join_by_another_cohorts_member_is_refused(world):
    session = _live(world)

    with pytest.raises(PermissionDenied):
        _join(session, Membership.objects.get(user=world.outsider))


def test_join_recovers_when_another_tab_wins_the_insert(world, monkeypatch):
    """The check-then-insert window: the pre-check misses a row inserted meanwhile; the constraint catches it."""
    session = _live(world)
    winner = HelpRequest.objects.create(session=session, membership=world.alice_membership, description="tab 1")
    real = services._open_request
    calls = []

    def blind_first_time(session, membership):  # type: ignore[no-untyped-def]
        calls.append(1)
        return None if len(calls) == 1 else real(session, membership)

    monkeypatch.setattr(services, "_open_request", blind_first_time)

    request, created = _join(session, world.alice_membership, "tab 2")

    assert (request.pk, created) == (winner.pk, False)
    assert HelpRequest.objects.count() == 1


def _race(count: int, work) -> list[object]:  # type: ignore[no-untyped-def]
    """Run `work` in `count` threads released together; their results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        except BaseException as exc:  # collected for the assertions
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_joins_from_two_tabs_give_one_place(world):
    session = _live(world)

    results = _race(4, lambda: _join(session, world.alice_membership))

    assert all(isinstance(result, tuple) for result in results), results
    assert sorted(created for _request, created in results) == [False, False, False, True]
    assert len({request.pk for request, _created in results}) == 1
    assert HelpRequest.objects.count() == 1


# --- Leaving, taking, finishing ---------------------------------------------------------


def test_leave_marks_left_and_twice_changes_nothing(world):
    session = _live(world)
    request, _ = _join(session, world.alice_membership)

    first = services.help_request_leave(session=session, membership=world.alice_membership)
    second = services.help_request_leave(session=session, membership=world.alice_membership)

    request.refresh_from_db()
    assert (first, second) == (True, False)
    assert request.status == HelpRequestStatus.LEFT
    assert request.finished_at is not None


def test_take_then_finish(world):
    session = _live(world)
    request, _ = _join(session, world.alice_membership)

    services.help_request_take(session=session, request=request, helper=world.lead)
    request.refresh_from_db()
    taken = (request.status, request.helped_by, request.started_at is not None)
    services.help_request_finish(session=session, request=request)
    request.refresh_from_db()

    assert taken == (HelpRequestStatus.HELPING, world.lead, True)
    assert request.status == HelpRequestStatus.DONE
    assert request.finished_at >= request.started_at


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (HelpRequestStatus.HELPING, "already helping"),
        (HelpRequestStatus.LEFT, "no longer waiting"),
        (HelpRequestStatus.DONE, "no longer waiting"),
    ],
)
def test_take_refused_when_no_longer_waiting(world, status, message):
    session = _live(world)
    request = HelpRequest.objects.create(
        session=session, membership=world.alice_membership, description="x", status=status
    )
    before = _rows()

    with pytest.raises(services.LiveSessionError, match=message):
        services.help_request_take(session=session, request=request, helper=world.lead)
    assert _rows() == before


def test_take_uses_the_current_row_not_the_callers_copy(world):
    session = _live(world)
    request, _ = _join(session, world.alice_membership)
    stale = HelpRequest.objects.get(pk=request.pk)
    services.help_request_leave(session=session, membership=world.alice_membership)

    with pytest.raises(services.LiveSessionError, match="no longer waiting"):
        services.help_request_take(session=session, request=stale, helper=world.lead)


@pytest.mark.django_db(transaction=True)
def test_helpers_taking_at_once_one_wins(world):
    session = _live(world)
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user
    request, _ = _join(session, world.alice_membership)
    helpers = iter([world.lead, mentor, world.lead, mentor])
    lock = threading.Lock()

    def take():  # type: ignore[no-untyped-def]
        with lock:
            helper = next(helpers)
        return services.help_request_take(session=session, request=request, helper=helper)

    results = _race(4, take)

    errors = [r for r in results if isinstance(r, services.LiveSessionError)]
    taken = [r for r in results if isinstance(r, HelpRequest)]
    assert (len(errors), len(taken)) == (3, 1), results
    request.refresh_from_db()
    assert request.helped_by == taken[0].helped_by


def test_finish_refused_unless_being_helped(world):
    session = _live(world)
    request, _ = _join(session, world.alice_membership)

    with pytest.raises(services.LiveSessionError, match="Take this request"):
        services.help_request_finish(session=session, request=request)
    services.help_request_take(session=session, request=request, helper=world.lead)
    services.help_request_finish(session=session, request=request)
    with pytest.raises(services.LiveSessionError, match="already finished"):
        services.help_request_finish(session=session, request=request)


def test_take_of_another_sessions_request_is_refused(world):
    session, other = _live(world), _live(world, number=2)
    request, _ = _join(other, world.alice_membership)

    with pytest.raises(services.LiveSessionError, match="another session"):
        services.help_request_take(session=session, request=request, helper=world.lead)


# --- Ending the session -----------------------------------------------------------------


def test_ending_the_session_closes_open_places_and_keeps_them_as_history(world):
    session = _live(world)
    carol = MembershipFactory(cohort=world.cohort)
    waiting, _ = _join(session, world.alice_membership)
    helping, _ = _join(session, world.bob_membership)
    done, _ = _join(session, carol)
    for request in (helping, done):
        services.help_request_take(session=session, request=request, helper=world.lead)
    services.help_request_finish(session=session, request=done)
    done.refresh_from_db()

    office_hours.session_set_status(session=session, status=SessionStatus.ENDED)

    rows = {r.pk: r for r in HelpRequest.objects.all()}
    assert rows[waiting.pk].status == HelpRequestStatus.LEFT
    assert rows[helping.pk].status == HelpRequestStatus.DONE
    assert rows[helping.pk].helped_by == world.lead
    assert rows[done.pk].finished_at == done.finished_at  # already finished: untouched
    assert all(r.finished_at for r in rows.values())
    assert not HelpRequest.objects.filter(status__in=services.OPEN_STATUSES).exists()


def test_other_status_changes_leave_the_queue_alone(world):
    session = _live(world)
    _join(session, world.alice_membership)

    office_hours.session_set_status(session=session, status=SessionStatus.SCHEDULED)

    assert HelpRequest.objects.get().status == HelpRequestStatus.WAITING


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


# --- Views: who may do what -------------------------------------------------------------


def test_queue_endpoints_for_another_cohorts_session_are_404(world):
    outsider_m = Membership.objects.get(user=world.outsider)
    foreign = SessionFactory(cohort=outsider_m.cohort, number=4, status=SessionStatus.LIVE)
    foreign_request = HelpRequest.objects.create(session=foreign, membership=outsider_m, description="theirs")
    _live(world)
    lead, alice = world.client_for(world.lead), world.client_for(world.alice)
    before = _rows()

    assert alice.get(cohort_url("help_queue", "cohort-a", 4), **HTMX).status_code == 404
    assert alice.post(cohort_url("help_queue_join", "cohort-a", 4), {"description": "x"}).status_code == 404
    assert alice.post(cohort_url("help_queue_join", "cohort-b", 4), {"description": "x"}).status_code == 404
    assert lead.post(cohort_url("help_request_take", "cohort-a", 1, foreign_request.pk)).status_code == 404
    assert lead.post(cohort_url("help_request_take", "cohort-b", 4, foreign_request.pk)).status_code == 404
    assert lead.post(cohort_url("help_request_finish", "cohort-a", 1, foreign_request.pk)).status_code == 404
    assert world.client_for(world.outsider).get(cohort_url("help_queue", "cohort-a", 1), **HTMX).status_code == 404
    assert _rows() == before


def test_learner_calling_lead_actions_gets_403(world):
    session = _live(world)
    request, _ = _join(session, world.bob_membership)
    alice = world.client_for(world.alice)
    before = _rows()

    assert alice.post(cohort_url("help_request_take", "cohort-a", 1, request.pk), **HTMX).status_code == 403
    assert alice.post(cohort_url("help_request_finish", "cohort-a", 1, request.pk), **HTMX).status_code == 403
    assert _rows() == before


def test_mentor_can_take_and_finish(world):
    session = _live(world)
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR, user=UserFactory(name="Mina"))
    request, _ = _join(session, world.alice_membership)
    client = world.client_for(mentor.user)

    taken = client.post(cohort_url("help_request_take", "cohort-a", 1, request.pk), **HTMX)
    done = client.post(cohort_url("help_request_finish", "cohort-a", 1, request.pk), **HTMX)

    request.refresh_from_db()
    assert (taken.status_code, done.status_code) == (200, 200)
    assert (request.status, request.helped_by) == (HelpRequestStatus.DONE, mentor.user)


def test_anonymous_htmx_poll_reloads_the_page_and_plain_requests_go_to_login(world):
    _live(world)
    client = world.client_for(None)

    poll = client.get(cohort_url("help_queue", "cohort-a", 1) + "?m=join&v=x", **HTMX)
    plain = client.post(cohort_url("help_queue_join", "cohort-a", 1), {"description": "x"})

    assert (poll.status_code, poll["HX-Refresh"]) == (204, "true")
    assert plain.status_code == 302 and plain.url.startswith(reverse("account_login"))
    assert not HelpRequest.objects.exists()


def test_queue_writes_are_post_only(world):
    session = _live(world)
    request, _ = _join(session, world.alice_membership)
    lead = world.client_for(world.lead)

    assert world.client_for(world.bob).get(cohort_url("help_queue_join", "cohort-a", 1)).status_code == 405
    assert world.client_for(world.alice).get(cohort_url("help_queue_leave", "cohort-a", 1)).status_code == 405
    assert lead.get(cohort_url("help_request_take", "cohort-a", 1, request.pk)).status_code == 405


def test_queue_post_without_csrf_token_is_403(world):
    _live(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)

    response = client.post(cohort_url("help_queue_join", "cohort-a", 1), {"description": "Help"}, **HTMX)

    assert response.status_code == 403
    assert not HelpRequest.objects.exists()


# --- Views: joining and leaving ---------------------------------------------------------


def test_join_htmx_returns_the_panel_with_the_position(world):
    session = _live(world)
    _join(session, world.bob_membership)

    response = world.client_for(world.alice).post(
        cohort_url("help_queue_join", "cohort-a", 1),
        {"description": "CMake cannot find a compiler", "capsule_os": "Windows 11", "capsule_model_sha256": SHA},
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="help-queue"')
    assert "You joined the queue." in html
    assert "You are number 2 in the queue" in html
    assert "CMake cannot find a compiler" in html
    assert "My build fails" not in html  # bob's description
    assert HelpRequest.objects.get(membership=world.alice_membership).capsule_os == "Windows 11"


def test_join_twice_through_the_view_says_so(world):
    _live(world)
    client = world.client_for(world.alice)
    client.post(cohort_url("help_queue_join", "cohort-a", 1), {"description": "first"}, **HTMX)

    response = client.post(cohort_url("help_queue_join", "cohort-a", 1), {"description": "second"}, **HTMX)

    assert response.status_code == 200
    assert "already in the queue" in response.content.decode()
    assert list(HelpRequest.objects.values_list("description", flat=True)) == ["first"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"description": ""}, "Say in a sentence what you are stuck on."),
        ({"description": "x" * 501}, "at most 500 characters"),
        ({"description": "ok", "capsule_model_sha256": "xyz"}, "64 hexadecimal characters"),
        ({"description": "ok", "capsule_error_log": "e" * 20_001}, "at most 20000 characters"),
    ],
    ids=["empty", "oversized", "bad-sha", "oversized-log"],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_join_with_invalid_input_is_400_with_the_field_error(world, data, error, headers):
    _live(world)

    response = world.client_for(world.alice).post(cohort_url("help_queue_join", "cohort-a", 1), data, **headers)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not HelpRequest.objects.exists()


def test_join_when_not_live_is_400_with_the_message(world):
    SessionFactory(cohort=world.cohort, number=1)

    response = world.client_for(world.alice).post(
        cohort_url("help_queue_join", "cohort-a", 1), {"description": "x"}, **HTMX
    )

    assert response.status_code == 400
    assert "opens when the lead starts the session" in response.content.decode()
    assert not HelpRequest.objects.exists()


def test_join_plain_post_redirects_to_the_live_page(world):
    _live(world)

    response = world.client_for(world.alice).post(cohort_url("help_queue_join", "cohort-a", 1), {"description": "Help"})

    assert response.status_code == 302
    assert response.url == cohort_url("session_live", "cohort-a", 1) + "#help-queue"
    assert HelpRequest.objects.filter(membership=world.alice_membership).exists()


def test_leave_through_the_view(world):
    session = _live(world)
    _join(session, world.alice_membership)

    response = world.client_for(world.alice).post(cohort_url("help_queue_leave", "cohort-a", 1), **HTMX)

    assert response.status_code == 200
    assert "You left the queue." in response.content.decode()
    assert HelpRequest.objects.get().status == HelpRequestStatus.LEFT


def test_lead_take_of_a_request_someone_else_took_is_400_with_a_message(world):
    session = _live(world)
    request, _ = _join(session, world.alice_membership)
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user
    services.help_request_take(session=session, request=request, helper=mentor)

    response = world.client_for(world.lead).post(cohort_url("help_request_take", "cohort-a", 1, request.pk), **HTMX)

    assert response.status_code == 400
    assert "Someone is already helping this learner." in response.content.decode()
    request.refresh_from_db()
    assert request.helped_by == mentor


# --- Views: what each viewer sees -------------------------------------------------------


def test_capsule_is_escaped_and_the_log_preformatted_for_leads(world):
    session = _live(world)
    _join(
        session,
        world.alice_membership,
        "<script>alert('d')</script> fails",
        command="<img src=x onerror=alert(1)>",
        error_log="<b>bold</b>\n  indented",
    )

    html = world.client_for(world.lead).get(cohort_url("help_queue", "cohort-a", 1), **HTMX).content.decode()

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;d&#x27;)&lt;/script&gt; fails" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<pre class="error-log">&lt;b&gt;bold&lt;/b&gt;\n  indented</pre>' in html


def test_other_learners_see_only_the_queue_length(world):
    session = _live(world)
    _join(session, world.alice_membership, "Alice's private problem", error_log="alice-secret-log")

    bob_panel = world.client_for(world.bob).get(cohort_url("help_queue", "cohort-a", 1), **HTMX).content.decode()
    lead_panel = world.client_for(world.lead).get(cohort_url("help_queue", "cohort-a", 1), **HTMX).content.decode()

    assert "private problem" not in bob_panel and "alice-secret-log" not in bob_panel and "Alice" not in bob_panel
    assert "1 person is waiting." in bob_panel
    assert "Alice&#x27;s private problem" in lead_panel and "alice-secret-log" in lead_panel


def test_lead_toggle_first_time_askers_first(world):
    session = _live(world)
    earlier = SessionFactory(cohort=world.cohort, number=2, status=SessionStatus.ENDED)
    HelpRequest.objects.create(session=earlier, membership=world.alice_membership, description="old", status="done")
    _join(session, world.alice_membership, "returning asker")
    _join(session, world.bob_membership, "new asker")
    client = world.client_for(world.lead)

    plain = client.get(cohort_url("help_queue", "cohort-a", 1), **HTMX).content.decode()
    first = client.get(cohort_url("help_queue", "cohort-a", 1) + "?first=1", **HTMX).content.decode()

    assert plain.index("returning asker") < plain.index("new asker")
    assert first.index("new asker") < first.index("returning asker")
    assert '<input type="hidden" name="first" value="1" data-live-key>' in first  # the poll keeps the chosen order


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
