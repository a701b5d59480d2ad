"""Reads for the help queue: a learner's place and wait, the staff's queue with its capsules.

Like the other live panels, each read returns a `key` that changes exactly when what
the panel shows changes (see `cohort.office_hours.live_selectors`).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict

from django.db.models import Case, CharField, F, Q, Value, When
from django.utils import timezone

from cohort.models import (
    HelpRequest,
    HelpRequestStatus,
    Membership,
    OfficeHoursSession,
    SessionStatus,
)
from cohort.office_hours.live_selectors import display_name, panel_key, poll_interval
from cohort.office_hours.live_services import OPEN_STATUSES, session_is_over

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
    # About how long until the viewer's turn (or, before joining, until a newcomer's), in minutes; None: no data yet.
    estimated_wait: int | None = None
    help_room_url: str = ""


def learner_queue(*, session: OfficeHoursSession, viewer: Membership, now: dt.datetime | None = None) -> LearnerQueue:
    """The viewer's place in the session's queue: one query of small columns.

    Position counts the waiting requests that joined before the viewer's (ties by id),
    the order leads see by default.
    """
    now = now or timezone.now()
    rows = list(
        HelpRequest.objects.filter(session=session)
        .filter(Q(status__in=OPEN_STATUSES) | Q(membership=viewer) | Q(status=HelpRequestStatus.DONE))
        .order_by("joined_at", "pk")
        .values(
            "membership_id",
            "status",
            "started_at",
            "finished_at",
            "helped_by_id",
            "helped_by__name",
            "helped_by__email",
            # Only the viewer's own description leaves the database.
            own_description=Case(
                When(membership=viewer, then=F("description")), default=Value(""), output_field=CharField()
            ),
        )
    )
    helped_rows = [row for row in rows if row["status"] == HelpRequestStatus.DONE]
    rows = [row for row in rows if row["status"] in OPEN_STATUSES or row["membership_id"] == viewer.pk]
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
    helper = display_name(own["helped_by__name"], own["helped_by__email"]) if own and own["helped_by__email"] else ""
    estimate = None
    if mode in ("waiting", "join"):
        helpers = len({row["helped_by_id"] for row in rows if row["status"] == HelpRequestStatus.HELPING}) or 1
        ahead = position if position is not None else len(waiting) + 1
        estimate = estimated_wait(
            ahead=ahead, helpers=helpers, typical=typical_help_minutes(session=session, session_rows=helped_rows)
        )
    queue = LearnerQueue(
        mode=mode,
        waiting_count=len(waiting),
        position=position,
        description=own["own_description"] if own else (last["own_description"] if last else ""),
        helper_name=helper,
        last_status=last["status"] if last else "",
        poll=poll_interval(session, now),
        key="",
        estimated_wait=estimate,
        help_room_url=session.help_room_url or session.meeting_url,
    )
    queue.key = panel_key(
        queue.mode,
        queue.waiting_count,
        queue.position,
        queue.helper_name,
        queue.last_status,
        queue.poll,
        queue.estimated_wait,
        queue.help_room_url,
    )
    return queue


# --- Estimated wait -----------------------------------------------------------------------

# How many of the cohort's latest helps stand in for this session's when it has none yet.
_PAST_HELPS = 40


class _HelpTimes(TypedDict):
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


def _minutes(rows: Iterable[_HelpTimes]) -> list[float]:
    return [
        (row["finished_at"] - row["started_at"]).total_seconds() / 60
        for row in rows
        if row["started_at"] and row["finished_at"] and row["finished_at"] >= row["started_at"]
    ]


def typical_help_minutes(*, session: OfficeHoursSession, session_rows: Iterable[_HelpTimes]) -> float | None:
    """The median length of a help: this session's finished helps, else the cohort's latest past ones (one query).

    None when nobody was ever helped in the cohort: no estimate beats a made-up one.
    """
    durations = _minutes(session_rows)
    if not durations:
        past = (
            HelpRequest.objects.filter(
                session__cohort_id=session.cohort_id, status=HelpRequestStatus.DONE, started_at__isnull=False
            )
            .exclude(session=session)
            .order_by("-finished_at")
            .values("started_at", "finished_at")[:_PAST_HELPS]
        )
        durations = _minutes(past)
    return statistics.median(durations) if durations else None


def estimated_wait(*, ahead: int, helpers: int, typical: float | None) -> int | None:
    """Minutes until the person at place `ahead` is taken: the places before theirs, shared among the helpers.

    Number 1 waits for the first helper to finish (half a help on average, rounded up to a minute).
    """
    if typical is None:
        return None
    before = max(ahead - 1, 0) + 0.5
    return max(1, math.ceil(before * typical / max(helpers, 1)))


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
    return panel_key(sorted(state), first_time_first, poll, session.status, int(now.timestamp()) // 60)


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
