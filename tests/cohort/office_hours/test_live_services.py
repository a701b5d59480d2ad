"""RSVP and attendance rules (cohort/office_hours/live_services.py) and the attendance reads (cohort/office_hours/live_selectors.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from cohort.models import (
    AttendanceSource,
    Membership,
    OfficeHoursSession,
    Role,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
)
from cohort.office_hours import live_selectors as selectors
from cohort.office_hours import live_services as services
from tests.factories import MembershipFactory, SessionFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 13, 17, 30, tzinfo=dt.UTC)


def _session(world, *, number: int = 1, status: str = SessionStatus.SCHEDULED, starts_in: dt.timedelta, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("check_in_code", "K7WQ3M")
    return SessionFactory(cohort=world.cohort, number=number, status=status, starts_at=NOW + starts_in, **kw)


def _live(world, **kw) -> OfficeHoursSession:  # type: ignore[no-untyped-def]
    return _session(world, status=SessionStatus.LIVE, starts_in=-dt.timedelta(minutes=30), **kw)


def _foreign_member(world) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.get(user=world.outsider)


def _lead_membership(world) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.get(cohort=world.cohort, user=world.lead)


# --- RSVP -------------------------------------------------------------------------------


def test_rsvp_add_is_idempotent(world):
    session = _session(world, starts_in=dt.timedelta(days=1))

    first = services.rsvp_add(session=session, membership=world.alice_membership, at=NOW)
    second = services.rsvp_add(session=session, membership=world.alice_membership, at=NOW)

    assert (first, second) == (True, False)
    assert SessionRSVP.objects.filter(session=session).count() == 1


def test_rsvp_allowed_while_live_even_past_the_planned_end(world):
    session = _session(world, status=SessionStatus.LIVE, starts_in=-dt.timedelta(hours=3))

    assert services.rsvp_add(session=session, membership=world.alice_membership, at=NOW) is True


@pytest.mark.parametrize(
    ("status", "starts_in"),
    [(SessionStatus.ENDED, -dt.timedelta(minutes=10)), (SessionStatus.SCHEDULED, -dt.timedelta(hours=2))],
    ids=["ended", "scheduled-and-past"],
)
def test_rsvp_add_and_cancel_refused_once_over(world, status, starts_in):
    session = _session(world, status=status, starts_in=starts_in)
    SessionRSVP.objects.create(session=session, membership=world.bob_membership)

    with pytest.raises(services.LiveSessionError, match="over"):
        services.rsvp_add(session=session, membership=world.alice_membership, at=NOW)
    with pytest.raises(services.LiveSessionError, match="kept as a record"):
        services.rsvp_cancel(session=session, membership=world.bob_membership, at=NOW)

    assert list(SessionRSVP.objects.values_list("membership_id", flat=True)) == [world.bob_membership.pk]


def test_rsvp_cancel_removes_it_and_twice_changes_nothing(world):
    session = _session(world, starts_in=dt.timedelta(days=1))
    services.rsvp_add(session=session, membership=world.alice_membership, at=NOW)

    first = services.rsvp_cancel(session=session, membership=world.alice_membership, at=NOW)
    second = services.rsvp_cancel(session=session, membership=world.alice_membership, at=NOW)

    assert (first, second) == (True, False)
    assert not SessionRSVP.objects.exists()


def test_rsvp_by_another_cohorts_member_is_refused(world):
    session = _session(world, starts_in=dt.timedelta(days=1))

    with pytest.raises(PermissionDenied):
        services.rsvp_add(session=session, membership=_foreign_member(world), at=NOW)
    assert not SessionRSVP.objects.exists()


# --- Check-in ---------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["K7WQ3M", "k7wq3m", "  k7wq3m \n", "K7W Q3M"])
def test_check_in_accepts_the_code_case_and_space_insensitively(world, typed):
    session = _live(world)

    created = services.attendance_check_in(session=session, membership=world.alice_membership, code=typed, at=NOW)

    row = SessionAttendance.objects.get()
    assert created is True
    assert (row.membership, row.source, row.marked_by, row.checked_in_at) == (
        world.alice_membership,
        AttendanceSource.CODE,
        None,
        NOW,
    )
    world.alice_membership.refresh_from_db()
    assert world.alice_membership.last_activity_at == NOW


@pytest.mark.parametrize("typed", ["K7WQ3N", "K7WQ3", "", "   ", "K7WQ3MM"])
def test_check_in_with_a_wrong_code_changes_nothing(world, typed):
    session = _live(world)

    with pytest.raises(services.LiveSessionError):
        services.attendance_check_in(session=session, membership=world.alice_membership, code=typed, at=NOW)

    assert not SessionAttendance.objects.exists()
    world.alice_membership.refresh_from_db()
    assert world.alice_membership.last_activity_at is None


def test_check_in_after_too_many_wrong_codes_is_refused_even_with_the_right_one(world):
    session = _live(world)
    for _ in range(services.WRONG_CODES_ALLOWED):
        with pytest.raises(services.LiveSessionError, match="not this session's code"):
            services.attendance_check_in(session=session, membership=world.alice_membership, code="AAAAAA", at=NOW)

    with pytest.raises(services.LiveSessionError, match="Too many wrong codes"):
        services.attendance_check_in(session=session, membership=world.alice_membership, code="K7WQ3M", at=NOW)
    # Someone else's tries are their own.
    assert services.attendance_check_in(session=session, membership=world.bob_membership, code="K7WQ3M", at=NOW)
    assert list(SessionAttendance.objects.values_list("membership", flat=True)) == [world.bob_membership.pk]


def test_check_in_twice_changes_nothing(world):
    session = _live(world)
    services.attendance_check_in(session=session, membership=world.alice_membership, code="K7WQ3M", at=NOW)

    again = services.attendance_check_in(
        session=session, membership=world.alice_membership, code="k7wq3m", at=NOW + dt.timedelta(minutes=5)
    )

    assert again is False
    assert SessionAttendance.objects.get().checked_in_at == NOW


@pytest.mark.parametrize(
    ("status", "message"),
    [(SessionStatus.SCHEDULED, "opens when the lead starts"), (SessionStatus.ENDED, "has ended")],
)
def test_check_in_refused_when_the_session_is_not_live(world, status, message):
    session = _session(world, status=status, starts_in=-dt.timedelta(minutes=5))

    with pytest.raises(services.LiveSessionError, match=message):
        services.attendance_check_in(session=session, membership=world.alice_membership, code="K7WQ3M", at=NOW)
    assert not SessionAttendance.objects.exists()


def test_check_in_with_another_sessions_code_is_refused(world):
    session = _live(world)
    _session(world, number=2, starts_in=dt.timedelta(days=7), check_in_code="ZZZZZZ")

    with pytest.raises(services.LiveSessionError, match="not this session's code"):
        services.attendance_check_in(session=session, membership=world.alice_membership, code="ZZZZZZ", at=NOW)


def test_check_in_by_another_cohorts_member_is_refused(world):
    session = _live(world)

    with pytest.raises(PermissionDenied):
        services.attendance_check_in(session=session, membership=_foreign_member(world), code="K7WQ3M", at=NOW)


# --- Lead marks -------------------------------------------------------------------------


def test_lead_marks_present_records_who_and_is_idempotent(world):
    session = _live(world)

    first = services.attendance_mark(session=session, membership=world.bob_membership, by=world.lead, at=NOW)
    second = services.attendance_mark(session=session, membership=world.bob_membership, by=world.lead, at=NOW)

    row = SessionAttendance.objects.get()
    assert (first, second) == (True, False)
    assert (row.source, row.marked_by) == (AttendanceSource.LEAD, world.lead)


def test_lead_mark_keeps_an_existing_code_check_in(world):
    session = _live(world)
    services.attendance_check_in(session=session, membership=world.bob_membership, code="K7WQ3M", at=NOW)

    created = services.attendance_mark(session=session, membership=world.bob_membership, by=world.lead, at=NOW)

    assert created is False
    assert SessionAttendance.objects.get().source == AttendanceSource.CODE


def test_lead_can_mark_after_the_session_ended_but_not_before_it_started(world):
    ended = _session(world, status=SessionStatus.ENDED, starts_in=-dt.timedelta(days=1))
    future = _session(world, number=2, starts_in=dt.timedelta(days=1))

    assert services.attendance_mark(session=ended, membership=world.bob_membership, by=world.lead, at=NOW)
    with pytest.raises(services.LiveSessionError, match="once the session has started"):
        services.attendance_mark(session=future, membership=world.bob_membership, by=world.lead, at=NOW)
    assert SessionAttendance.objects.filter(session=future).count() == 0


def test_lead_unmark_removes_any_attendance_and_twice_changes_nothing(world):
    session = _live(world)
    services.attendance_check_in(session=session, membership=world.bob_membership, code="K7WQ3M", at=NOW)

    first = services.attendance_unmark(session=session, membership=world.bob_membership)
    second = services.attendance_unmark(session=session, membership=world.bob_membership)

    assert (first, second) == (True, False)
    assert not SessionAttendance.objects.exists()


def test_lead_cannot_mark_another_cohorts_member(world):
    session = _live(world)

    with pytest.raises(PermissionDenied):
        services.attendance_mark(session=session, membership=_foreign_member(world), by=world.lead, at=NOW)
    assert not SessionAttendance.objects.exists()


# --- Reads ------------------------------------------------------------------------------


def test_rsvp_panel_counts_and_knows_the_viewer(world, django_assert_num_queries):
    session = _live(world)
    for member in (world.alice_membership, world.bob_membership):
        services.rsvp_add(session=session, membership=member, at=NOW)
    services.attendance_mark(session=session, membership=world.alice_membership, by=world.lead, at=NOW)

    with django_assert_num_queries(1):
        alice = selectors.rsvp_summary(session=session, viewer=world.alice_membership, now=NOW)
    lead = selectors.rsvp_summary(session=session, viewer=_lead_membership(world), now=NOW)

    assert (alice.rsvp_count, alice.viewer_rsvped, alice.viewer_checked_in_at, alice.viewer_attendance_source) == (
        2,
        True,
        NOW,
        "lead",
    )
    assert (lead.rsvp_count, lead.viewer_rsvped, lead.viewer_checked_in_at) == (2, False, None)
    assert alice.is_live and not alice.is_over


def test_attendance_roster_lists_learners_and_mentors_in_one_query(world, django_assert_num_queries):
    session = _live(world)
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR)
    extra = [MembershipFactory(cohort=world.cohort) for _ in range(15)]
    services.rsvp_add(session=session, membership=world.bob_membership, at=NOW)
    services.attendance_check_in(session=session, membership=world.alice_membership, code="K7WQ3M", at=NOW)
    services.attendance_mark(session=session, membership=extra[0], by=world.lead, at=NOW)

    with django_assert_num_queries(1):
        roster = selectors.roster_for(session=session)
        rows = {row.membership.pk: row for row in roster.rows}
        order = [row.membership.pk for row in roster.rows]

    assert _lead_membership(world).pk not in rows
    assert mentor.pk in rows
    assert len(rows) == 2 + 1 + 15
    assert [r.membership.pk for r in roster.rsvps] == [world.bob_membership.pk]
    assert {r.membership.pk for r in roster.present} == {world.alice_membership.pk, extra[0].pk}
    assert rows[extra[0].pk].marked_by_name == world.lead.display_name
    assert rows[world.alice_membership.pk].source == "code"
    by_name = (
        Membership.objects.exclude(role=Role.LEAD).filter(cohort=world.cohort).order_by("user__name", "user__email")
    )
    assert order == list(by_name.values_list("pk", flat=True))


def test_attendance_roster_key_changes_with_a_check_in(world):
    session = _live(world)
    before = selectors.roster_for(session=session).key

    services.attendance_check_in(session=session, membership=world.alice_membership, code="K7WQ3M", at=NOW)

    assert selectors.roster_for(session=session).key != before
    assert selectors.roster_for(session=session).key == selectors.roster_for(session=session).key


def test_attendance_history_states_and_counts(world, django_assert_num_queries):
    Membership.objects.filter(pk=world.alice_membership.pk).update(joined_at=NOW - dt.timedelta(days=20))
    alice = Membership.objects.get(pk=world.alice_membership.pk)
    before = _session(world, number=1, status=SessionStatus.ENDED, starts_in=-dt.timedelta(days=30))
    attended = _session(world, number=2, status=SessionStatus.ENDED, starts_in=-dt.timedelta(days=14))
    missed_rsvp = _session(
        world, number=3, status=SessionStatus.ENDED, starts_in=-dt.timedelta(days=7), recap_published_at=NOW
    )
    missed_never_ended = _session(world, number=4, starts_in=-dt.timedelta(days=3))
    live = _session(world, number=5, status=SessionStatus.LIVE, starts_in=-dt.timedelta(minutes=20))
    upcoming = _session(world, number=6, starts_in=dt.timedelta(days=7))
    SessionAttendance.objects.create(session=attended, membership=alice, checked_in_at=attended.starts_at)
    for session in (attended, missed_rsvp, upcoming):
        SessionRSVP.objects.create(session=session, membership=alice)
    SessionAttendance.objects.create(session=live, membership=world.bob_membership)  # someone else's

    with django_assert_num_queries(1):
        history = selectors.attendance_history(membership=alice, now=NOW)

    states = {row.session.number: (row.state, row.rsvped) for row in history.rows}
    assert [row.session.number for row in history.rows] == [6, 5, 4, 3, 2, 1]
    assert states == {
        upcoming.number: ("upcoming", True),
        live.number: ("live", False),
        missed_never_ended.number: ("missed", False),
        missed_rsvp.number: ("missed", True),
        attended.number: ("attended", True),
        before.number: ("before", False),
    }
    assert (history.attended_count, history.missed_count, history.rsvp_count, history.held_count) == (1, 2, 3, 3)


def test_attendance_history_only_reads_the_members_cohort(world):
    own = _session(world, number=1, status=SessionStatus.ENDED, starts_in=-dt.timedelta(days=1))
    SessionFactory(cohort=_foreign_member(world).cohort, number=1, status=SessionStatus.ENDED, starts_at=own.starts_at)

    history = selectors.attendance_history(membership=world.alice_membership, now=timezone.now())

    assert [row.session.pk for row in history.rows] == [own.pk]
