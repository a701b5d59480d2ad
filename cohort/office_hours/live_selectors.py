"""Reads for RSVPs, attendance, announcements and the live poll: each a fixed number of queries, whatever the cohort's size.

The help-queue reads (`queue_selectors`) live beside these. Panel reads return a short `key` that changes exactly when what
the panel shows changes. Polling panels send it back; an unchanged key is
answered "204 No Content", so the browser keeps what it shows (an open
capsule stays open) and no HTML is rendered for nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

from django.db import connection
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cohort.models import (
    Cohort,
    HelpRequest,
    HelpRequestStatus,
    Membership,
    OfficeHoursSession,
    Role,
    SessionAnnouncement,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
)
from cohort.office_hours.live_services import session_is_over

# A session polled before it is live: often enough to notice the lead starting it, rarely enough
# that tabs left open for days cost nothing much.
_SOON = dt.timedelta(minutes=30)


def panel_key(*parts: object) -> str:
    # JSON rather than repr: a status is the same key whether it is "live" read back or SessionStatus.LIVE just set.
    text = json.dumps(parts, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def display_name(name: str | None, email: str | None) -> str:
    # User.display_name, for rows read with values() instead of model instances.
    return name or (email or "").split("@")[0]


def poll_interval(session: OfficeHoursSession, now: dt.datetime) -> str:
    """How often a panel asks again: every second while live, to show a new queue position within 2 s."""
    if session.status == SessionStatus.LIVE:
        return "1s"
    if session.status == SessionStatus.ENDED or session_is_over(session, now):
        return ""
    return "5s" if session.starts_at - now <= _SOON else "60s"


def _attendance(
    session_ref: OfficeHoursSession | OuterRef, membership_ref: Membership | OuterRef
) -> QuerySet[SessionAttendance]:
    return SessionAttendance.objects.filter(session=session_ref, membership=membership_ref)


# --- RSVP and check-in panel ------------------------------------------------------------


@dataclass
class RsvpSummary:
    session: OfficeHoursSession
    rsvp_count: int
    viewer_rsvped: bool
    viewer_checked_in_at: dt.datetime | None
    viewer_attendance_source: str
    is_over: bool

    @property
    def is_live(self) -> bool:
        return self.session.status == SessionStatus.LIVE

    @property
    def key(self) -> str:
        """Changes when the viewer's panel must be redrawn. Not the RSVP count: others RSVP'ing must not
        replace a check-in code being typed (the count is refreshed with the next redraw)."""
        return panel_key(
            self.session.status,
            self.is_over,
            self.viewer_rsvped,
            self.viewer_checked_in_at,
            self.viewer_attendance_source,
        )


def rsvp_summary(*, session: OfficeHoursSession, viewer: Membership, now: dt.datetime | None = None) -> RsvpSummary:
    """The RSVP count and the viewer's own RSVP and check-in: one query."""
    now = now or timezone.now()
    attendance = _attendance(OuterRef("pk"), viewer)
    row = (
        OfficeHoursSession.objects.filter(pk=session.pk)
        .annotate(
            rsvp_count=Count("rsvps"),
            viewer_rsvped=Exists(SessionRSVP.objects.filter(session=OuterRef("pk"), membership=viewer)),
            viewer_checked_in_at=Subquery(attendance.values("checked_in_at")[:1]),
            viewer_source=Subquery(attendance.values("source")[:1]),
        )
        .values("rsvp_count", "viewer_rsvped", "viewer_checked_in_at", "viewer_source")
        .get()
    )
    return RsvpSummary(
        session=session,
        rsvp_count=row["rsvp_count"],
        viewer_rsvped=row["viewer_rsvped"],
        viewer_checked_in_at=row["viewer_checked_in_at"],
        viewer_attendance_source=row["viewer_source"] or "",
        is_over=session_is_over(session, now),
    )


# --- Lead: attendance roster ------------------------------------------------------------


@dataclass
class RosterRow:
    membership: Membership
    rsvp_at: dt.datetime | None
    checked_in_at: dt.datetime | None
    source: str
    marked_by_name: str

    @property
    def present(self) -> bool:
        return self.checked_in_at is not None


@dataclass
class Roster:
    rows: list[RosterRow]
    key: str

    @property
    def rsvps(self) -> list[RosterRow]:
        return [row for row in self.rows if row.rsvp_at]

    @property
    def present(self) -> list[RosterRow]:
        return [row for row in self.rows if row.present]


def roster_for(*, session: OfficeHoursSession) -> Roster:
    """Every learner and mentor of the cohort with their RSVP and attendance for the session: one query."""
    attendance = _attendance(session, OuterRef("pk"))
    members = (
        Membership.objects.filter(cohort_id=session.cohort_id)
        .exclude(role=Role.LEAD)
        .select_related("user")
        .annotate(
            rsvp_at=Subquery(
                SessionRSVP.objects.filter(session=session, membership=OuterRef("pk")).values("created_at")[:1]
            ),
            checked_in_at=Subquery(attendance.values("checked_in_at")[:1]),
            attendance_source=Subquery(attendance.values("source")[:1]),
            marked_by_name=Subquery(attendance.values("marked_by__name")[:1]),
            marked_by_email=Subquery(attendance.values("marked_by__email")[:1]),
        )
        .order_by("user__name", "user__email")
    )
    rows = [
        RosterRow(
            membership=m,
            rsvp_at=m.rsvp_at,
            checked_in_at=m.checked_in_at,
            source=m.attendance_source or "",
            marked_by_name=display_name(m.marked_by_name, m.marked_by_email) if m.marked_by_email else "",
        )
        for m in members
    ]
    key = panel_key(session.status, [(r.membership.pk, r.rsvp_at, r.checked_in_at, r.source) for r in rows])
    return Roster(rows=rows, key=key)


def cohort_member(*, cohort: Cohort, membership_id: int) -> Membership | None:
    """A member of the cohort; another cohort's member is not found, as if it did not exist."""
    return Membership.objects.select_related("user").filter(cohort=cohort, pk=membership_id).first()


# --- Attendance history -----------------------------------------------------------------


@dataclass
class AttendanceRow:
    session: OfficeHoursSession
    rsvped: bool
    checked_in_at: dt.datetime | None
    source: str
    state: str  # "attended", "missed", "live", "upcoming" or "before" (ended before the member joined)


@dataclass
class AttendanceHistory:
    membership: Membership
    rows: list[AttendanceRow]

    def _count(self, state: str) -> int:
        return sum(1 for row in self.rows if row.state == state)

    @property
    def attended_count(self) -> int:
        return self._count("attended")

    @property
    def missed_count(self) -> int:
        return self._count("missed")

    @property
    def rsvp_count(self) -> int:
        return sum(1 for row in self.rows if row.rsvped)

    @property
    def held_count(self) -> int:
        """Sessions the member could have attended: the ones that took place since they joined."""
        return self.attended_count + self.missed_count


def attendance_history(*, membership: Membership, now: dt.datetime | None = None) -> AttendanceHistory:
    """Every session of the member's cohort, latest first, with their RSVP and attendance: one query."""
    now = now or timezone.now()
    attendance = _attendance(OuterRef("pk"), membership)
    sessions = (
        OfficeHoursSession.objects.filter(cohort_id=membership.cohort_id)
        .defer("recap_markdown", "recap_html")
        .annotate(
            rsvped=Exists(SessionRSVP.objects.filter(session=OuterRef("pk"), membership=membership)),
            checked_in_at=Subquery(attendance.values("checked_in_at")[:1]),
            attendance_source=Subquery(attendance.values("source")[:1]),
        )
        .order_by("-starts_at", "-number")
    )
    rows = []
    for session in sessions:
        checked_in_at = session.checked_in_at
        if checked_in_at is not None:
            state = "attended"
        elif session.status == SessionStatus.LIVE:
            state = "live"
        elif not session_is_over(session, now):
            state = "upcoming"
        elif session.ends_at < membership.joined_at:
            state = "before"
        else:
            state = "missed"
        rows.append(
            AttendanceRow(
                session=session,
                rsvped=session.rsvped,
                checked_in_at=checked_in_at,
                source=session.attendance_source or "",
                state=state,
            )
        )
    return AttendanceHistory(membership=membership, rows=rows)


# --- Announcements ------------------------------------------------------------------------

ANNOUNCEMENTS_SHOWN = 3


@dataclass
class Announcements:
    items: list[SessionAnnouncement]
    key: str


def announcements(*, session: OfficeHoursSession) -> Announcements:
    """The latest few announcements of the session, newest first: one query."""
    items = list(
        SessionAnnouncement.objects.filter(session=session)
        .select_related("author")
        .order_by("-created_at", "-pk")[:ANNOUNCEMENTS_SHOWN]
    )
    return Announcements(items=items, key=panel_key([item.pk for item in items]))


# --- Wait statistics (after the session; the lead home reads them too) --------------------


@dataclass
class WaitStats:
    session_id: int
    helped: int = 0
    not_helped: int = 0
    median_wait_minutes: float | None = None
    longest_wait_minutes: float | None = None
    median_help_minutes: float | None = None

    @property
    def asked(self) -> int:
        return self.helped + self.not_helped


class _WaitRow(TypedDict):
    status: str
    joined_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


def _wait_stats(session_id: int, rows: list[_WaitRow]) -> WaitStats:
    stats = WaitStats(session_id=session_id)
    waits, helps = [], []
    for row in rows:
        joined, started, finished = row["joined_at"], row["started_at"], row["finished_at"]
        if row["status"] == HelpRequestStatus.DONE:
            stats.helped += 1
            if started:
                waits.append((started - joined).total_seconds() / 60)
                if finished:
                    helps.append((finished - started).total_seconds() / 60)
        elif row["status"] == HelpRequestStatus.LEFT:
            stats.not_helped += 1
            if finished:
                # Nobody took them: they waited until they left or the queue closed.
                waits.append((finished - joined).total_seconds() / 60)
    helped_waits = [
        (row["started_at"] - row["joined_at"]).total_seconds() / 60
        for row in rows
        if row["status"] == HelpRequestStatus.DONE and row["started_at"]
    ]
    stats.median_wait_minutes = round(statistics.median(helped_waits), 1) if helped_waits else None
    stats.longest_wait_minutes = round(max(waits), 1) if waits else None
    stats.median_help_minutes = round(statistics.median(helps), 1) if helps else None
    return stats


def wait_stats_for_sessions(*, session_ids: Iterable[int]) -> dict[int, WaitStats]:
    """Queue statistics per session: helped / not helped counts, median and longest wait. One query for any number.

    The median wait is over the learners who were helped (join to start);
    the longest wait also counts those who gave up or whom the end of the
    session sent home (join to leaving). Requests still open are not counted.
    """
    ids = list(session_ids)
    by_session: dict[int, list[_WaitRow]] = {pk: [] for pk in ids}
    rows = HelpRequest.objects.filter(
        session_id__in=ids, status__in=[HelpRequestStatus.DONE, HelpRequestStatus.LEFT]
    ).values("session_id", "status", "joined_at", "started_at", "finished_at")
    for row in rows:
        by_session[row["session_id"]].append(row)
    return {pk: _wait_stats(pk, session_rows) for pk, session_rows in by_session.items()}


def wait_stats(*, session: OfficeHoursSession) -> WaitStats:
    """`wait_stats_for_sessions` for one session: one query."""
    return wait_stats_for_sessions(session_ids=[session.pk])[session.pk]


# --- The live poll ------------------------------------------------------------------------

# Before a session, pages poll slowly until this close to its start (a lead may start a little early).
_WARM_UP = dt.timedelta(minutes=60)


def pulse_interval(session: OfficeHoursSession, now: dt.datetime) -> str:
    """How often an open session page asks "anything new?": every second while live or about to be.

    A lead who starts a session within the hour before its time, or at any time after it, is seen
    within 2 s; further ahead, and once it has ended, every 10 s is plenty.
    """
    if session.status == SessionStatus.LIVE:
        return "1s"
    if session_is_over(session, now):  # ended, or scheduled and long past (never set live): nothing to rush for
        return "10s"
    if session.starts_at - now <= _WARM_UP:
        return "1s"
    return "10s"


def status_key(session: OfficeHoursSession, now: dt.datetime) -> str:
    """What the status line (badge, "live now" banner) depends on."""
    return panel_key(session.status, session_is_over(session, now), session.meeting_url)


def live_key(*, session: OfficeHoursSession, viewer: Membership, now: dt.datetime) -> str:
    """The poll's fast path, from the session row alone (no query): equal means nothing to redraw.

    `live_version` moves with every write the panels show; the rest covers what
    changes with time alone: a scheduled session passing its end, the poll
    interval, and for staff the minute ("waiting 4 min").
    """
    minute = int(now.timestamp()) // 60 if viewer.is_staff_role else 0
    return panel_key(
        session.live_version, session.status, session_is_over(session, now), pulse_interval(session, now), minute
    )


@functools.cache
def _probe_sql() -> str:
    sessions, cohorts = OfficeHoursSession._meta.db_table, Cohort._meta.db_table
    members = Membership._meta.db_table
    # Only the models' own table names are interpolated; every value goes in as a parameter.
    return (
        f"SELECT s.live_version, s.status, s.starts_at, s.duration_minutes, m.role FROM {sessions} s "  # noqa: S608
        f"JOIN {cohorts} c ON c.id = s.cohort_id JOIN {members} m ON m.cohort_id = c.id "
        "WHERE c.slug = %s AND s.number = %s AND m.user_id = %s"
    )


def live_probe(*, user_id: int, cohort_slug: str, number: int, now: dt.datetime) -> str | None:
    """`live_key` for the user's view of a session from one light query; None if they are not a member.

    The poll asks this first: most polls end here with a 204, so it reads a few
    columns of the session and the membership in one query instead of loading
    both objects (as `member_or_404` and `session_or_404` do when something changed).
    """
    # Plain SQL on purpose: every open page sends this once a second, and building the ORM query
    # (two joins) cost more than running it. Table names come from the models.
    with connection.cursor() as cursor:
        cursor.execute(_probe_sql(), [cohort_slug, number, user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    live_version, status, starts_at, duration, role = row
    if isinstance(starts_at, str):  # SQLite hands back text; PostgreSQL a datetime
        starts_at = parse_datetime(starts_at)
    if starts_at is not None and timezone.is_naive(starts_at):
        starts_at = timezone.make_aware(starts_at, dt.UTC)
    session = OfficeHoursSession(
        live_version=live_version, status=status, starts_at=starts_at, duration_minutes=duration
    )
    return live_key(session=session, viewer=Membership(role=role), now=now)
