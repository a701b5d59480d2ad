"""The live help queue's rules (cohort/office_hours/live_services.py): joining, leaving, taking, finishing, ending."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from cohort.models import HelpRequest, HelpRequestStatus, Membership, Role, SessionStatus
from cohort.office_hours import live_services as services
from cohort.office_hours import services as office_hours
from tests.factories import MembershipFactory, SessionFactory
from tests.helpers import SHA, _join, _live, _rows

pytestmark = pytest.mark.django_db

LOG = 'Traceback (most recent call last):\n  File "run.py", line 3\n    llm = Llama(model_path=p)\nValueError: bad'


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
