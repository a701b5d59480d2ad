"""Reads for RSVPs, attendance and the help queue: each a fixed number of queries, whatever the cohort's size.

The help-queue reads also return a short `key` that changes exactly when what
the panel shows changes. Polling panels send it back; an unchanged key is
answered "204 No Content", so the browser keeps what it shows (an open
capsule stays open) and no HTML is rendered for nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, Subquery, Value, When
from django.utils import timezone

from cohort.live_sessions import OPEN_STATUSES, session_is_over
from cohort.models import (
    Cohort,
    HelpRequest,
    HelpRequestStatus,
    Membership,
    OfficeHoursSession,
    Role,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
)

# A session polled before it is live: often enough to notice the lead starting it, rarely enough
# that tabs left open for days cost nothing much.
_SOON = dt.timedelta(minutes=30)


def _key(*parts: object) -> str:
    # JSON rather than repr: a status is the same key whether it is "live" read back or SessionStatus.LIVE just set.
    text = json.dumps(parts, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _display_name(name: str | None, email: str | None) -> str:
    # User.display_name, for rows read with values() instead of model instances.
    return name or (email or "").split("@")[0]


def poll_interval(session: OfficeHoursSession, now: dt.datetime) -> str:
    """How often a panel asks again: every second while live, to show a new queue position within 2 s."""
    if session.status == SessionStatus.LIVE:
        return "1s"
    if session.status == SessionStatus.ENDED or session_is_over(session, now):
        return ""
    return "5s" if session.starts_at - now <= _SOON else "60s"


def _attendance(session_ref: object, membership_ref: object) -> object:
    return SessionAttendance.objects.filter(session=session_ref, membership=membership_ref)


# --- RSVP and check-in panel ------------------------------------------------------------


@dataclass
class RsvpPanel:
    session: OfficeHoursSession
    rsvp_count: int
    viewer_rsvped: bool
    viewer_checked_in_at: dt.datetime | None
    viewer_attendance_source: str
    is_over: bool

    @property
    def is_live(self) -> bool:
        return self.session.status == SessionStatus.LIVE


def rsvp_panel(*, session: OfficeHoursSession, viewer: Membership, now: dt.datetime | None = None) -> RsvpPanel:
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
    return RsvpPanel(
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


def attendance_roster(*, session: OfficeHoursSession) -> Roster:
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
            rsvp_at=m.rsvp_at,  # type: ignore[attr-defined]
            checked_in_at=m.checked_in_at,  # type: ignore[attr-defined]
            source=m.attendance_source or "",  # type: ignore[attr-defined]
            marked_by_name=_display_name(m.marked_by_name, m.marked_by_email)  # type: ignore[attr-defined]
            if m.marked_by_email  # type: ignore[attr-defined]
            else "",
        )
        for m in members
    ]
    key = _key(session.status, [(r.membership.pk, r.rsvp_at, r.checked_in_at, r.source) for r in rows])
    return Roster(rows=rows, key=key)


def cohort_member(*, cohort: Cohort, membership_id: int) -> Membership | None:
    """A member of the cohort; another cohort's member is not found, as if it did not exist."""
    return Membership.objects.select_related("user").filter(cohort=cohort, pk=membership_id).first()


# --- Help queue: a learner's view -------------------------------------------------------


@dataclass
class LearnerQueue:
    """What a learner sees of the queue: their own place and the queue's length, never anyone else's request."""

    mode: str  # "soon" (not live yet), "closed" (ended), "join", "waiting" or "helping"
    waiting_count: int
    position: int | None
    description: str
    helper_name: str
    last_status: str  # the viewer's latest closed request in this session: "done", "left" or ""
    poll: str
    key: str


def learner_queue(*, session: OfficeHoursSession, viewer: Membership, now: dt.datetime | None = None) -> LearnerQueue:
    """The viewer's place in the session's queue: one query of small columns.

    Position counts the waiting requests that joined before the viewer's (ties by id),
    the order leads see by default.
    """
    now = now or timezone.now()
    rows = list(
        HelpRequest.objects.filter(session=session)
        .filter(Q(status__in=OPEN_STATUSES) | Q(membership=viewer))
        .order_by("joined_at", "pk")
        .values(
            "membership_id",
            "status",
            "helped_by__name",
            "helped_by__email",
            # Only the viewer's own description leaves the database.
            own_description=Case(
                When(membership=viewer, then=F("description")), default=Value(""), output_field=CharField()
            ),
        )
    )
    waiting = [row for row in rows if row["status"] == HelpRequestStatus.WAITING]
    mine = [row for row in rows if row["membership_id"] == viewer.pk]
    own = next((row for row in mine if row["status"] in OPEN_STATUSES), None)
    last = mine[-1] if mine and own is None else None
    position = None
    if own is not None and own["status"] == HelpRequestStatus.WAITING:
        position = next(i for i, row in enumerate(waiting, start=1) if row["membership_id"] == viewer.pk)
    if session.status == SessionStatus.ENDED or session_is_over(session, now):
        mode = "closed"
    elif session.status != SessionStatus.LIVE:
        mode = "soon"
    elif own is None:
        mode = "join"
    else:
        mode = own["status"]
    helper = _display_name(own["helped_by__name"], own["helped_by__email"]) if own and own["helped_by__email"] else ""
    queue = LearnerQueue(
        mode=mode,
        waiting_count=len(waiting),
        position=position,
        description=own["own_description"] if own else (last["own_description"] if last else ""),
        helper_name=helper,
        last_status=last["status"] if last else "",
        poll=poll_interval(session, now),
        key="",
    )
    queue.key = _key(queue.mode, queue.waiting_count, queue.position, queue.helper_name, queue.last_status, queue.poll)
    return queue


# --- Help queue: what leads and mentors see ---------------------------------------------


# Capsule fields as leads read them: (field, label, shown as a block of preformatted text).
_CAPSULE_DISPLAY = [
    ("capsule_os", "OS", False),
    ("capsule_python", "Python", False),
    ("capsule_compiler", "Compiler", False),
    ("capsule_llama_cpp", "llama.cpp / llama-cpp-python", False),
    ("capsule_model_file", "Model file", False),
    ("capsule_model_sha256", "Model sha256", False),
    ("capsule_command", "Command", True),
    ("capsule_error_log", "Error output", True),
]


@dataclass
class CapsuleItem:
    label: str
    value: str
    block: bool


def capsule_items(request: HelpRequest) -> list[CapsuleItem]:
    """The filled-in capsule fields of a request, in the order a helper reads them."""
    return [
        CapsuleItem(label, getattr(request, name), block)
        for name, label, block in _CAPSULE_DISPLAY
        if getattr(request, name)
    ]


@dataclass
class StaffQueue:
    helping: list[HelpRequest] = field(default_factory=list)
    waiting: list[HelpRequest] = field(default_factory=list)
    finished: list[HelpRequest] = field(default_factory=list)
    first_time_first: bool = False
    poll: str = ""
    key: str = ""


def _staff_key(
    state: list[tuple[object, ...]], session: OfficeHoursSession, first_time_first: bool, poll: str, now: dt.datetime
) -> str:
    # The minute is part of the key so "waiting 4 min" moves on even when nobody joins.
    return _key(sorted(state), first_time_first, poll, session.status, int(now.timestamp()) // 60)


_STATE_FIELDS = ("pk", "status", "helped_by_id", "finished_at")


def staff_queue_key(
    *, session: OfficeHoursSession, first_time_first: bool, now: dt.datetime | None = None
) -> tuple[str, str]:
    """(key, poll interval) of the staff view, from one query of ids and states (no capsules)."""
    now = now or timezone.now()
    state = list(HelpRequest.objects.filter(session=session).values_list(*_STATE_FIELDS))
    poll = poll_interval(session, now)
    return _staff_key(state, session, first_time_first, poll, now), poll


def staff_queue(
    *, session: OfficeHoursSession, first_time_first: bool = False, now: dt.datetime | None = None
) -> StaffQueue:
    """Every request of the session with its capsule, the open ones in queue order: one query.

    Waiting requests come in join order; with `first_time_first`, first-time askers
    come first, each group still in join order (a stable sort). Its key equals
    `staff_queue_key` for the same rows.
    """
    now = now or timezone.now()
    requests = list(
        HelpRequest.objects.filter(session=session)
        .select_related("membership__user", "helped_by")
        .order_by("joined_at", "pk")
    )
    poll = poll_interval(session, now)
    state = [tuple(getattr(r, name) for name in _STATE_FIELDS) for r in requests]
    queue = StaffQueue(
        first_time_first=first_time_first, poll=poll, key=_staff_key(state, session, first_time_first, poll, now)
    )
    for request in requests:
        request.capsule = capsule_items(request)  # type: ignore[attr-defined]
        request.waited_minutes = int((now - request.joined_at).total_seconds() // 60)  # type: ignore[attr-defined]
        if request.status == HelpRequestStatus.WAITING:
            queue.waiting.append(request)
        elif request.status == HelpRequestStatus.HELPING:
            queue.helping.append(request)
        else:
            queue.finished.append(request)
    if first_time_first:
        queue.waiting.sort(key=lambda request: not request.first_time)
    queue.finished.sort(key=lambda request: request.finished_at or request.joined_at, reverse=True)
    return queue


def help_request_for(*, session: OfficeHoursSession, request_id: int) -> HelpRequest | None:
    return HelpRequest.objects.filter(session=session, pk=request_id).first()


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
        checked_in_at = session.checked_in_at  # type: ignore[attr-defined]
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
                rsvped=session.rsvped,  # type: ignore[attr-defined]
                checked_in_at=checked_in_at,
                source=session.attendance_source or "",  # type: ignore[attr-defined]
                state=state,
            )
        )
    return AttendanceHistory(membership=membership, rows=rows)
