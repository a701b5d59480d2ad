"""The lead home: what a lead or mentor opening `/` needs first, each panel one click from its full page.

Every panel is a short, bounded read (a few rows or a count), so the page runs
the same number of queries for 5 learners or 500:

- the live or next session with its check-in code, RSVPs and help-queue counts;
- open blockers, newest first;
- the review queue: how many pull requests wait, and the oldest one;
- the top of "who is stuck" (the same ordering as that page's default);
- the latest check-ins;
- how the help queue went in the latest ended sessions (wait statistics).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone

from cohort.check_ins.stuck import _ORDER as STUCK_ORDER
from cohort.check_ins.stuck import DEFAULT_DAYS, StuckRow, _count
from cohort.models import (
    CheckIn,
    CheckInStatus,
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
from cohort.office_hours.live_selectors import WaitStats, wait_stats_for_sessions
from cohort.office_hours.selectors import office_hours_panel
from exercises.models import Submission
from exercises.selectors import OPEN_STATES

PANEL_ROWS = 5
# Ended sessions whose queue statistics the lead home shows, newest first: enough to compare with the last ones.
ENDED_SESSIONS = 3


@dataclass
class SessionPanel:
    session: OfficeHoursSession | None
    rsvps: int = 0
    present: int = 0
    waiting: int = 0
    helping: int = 0
    helped: int = 0


@dataclass
class ReviewPanel:
    waiting: int
    oldest: Submission | None
    next_up: Sequence[Submission] = field(default_factory=list)


@dataclass
class EndedSession:
    session: OfficeHoursSession
    stats: WaitStats


@dataclass
class LeadHome:
    cohort: Cohort
    session: SessionPanel
    blockers: list[CheckIn]
    blocker_count: int
    reviews: ReviewPanel
    stuck: list[StuckRow]
    check_ins: list[CheckIn]
    now: dt.datetime
    ended: list[EndedSession] = field(default_factory=list)


def _session_panel(cohort: Cohort, now: dt.datetime) -> SessionPanel:
    session = office_hours_panel(cohort=cohort, now=now).next_session
    if session is None:
        return SessionPanel(session=None)
    requests = HelpRequest.objects.filter(session=OuterRef("pk"))
    counts = (
        OfficeHoursSession.objects.filter(pk=session.pk)
        .annotate(
            n_rsvps=_count(SessionRSVP.objects.filter(session=OuterRef("pk"))),
            n_present=_count(SessionAttendance.objects.filter(session=OuterRef("pk"))),
            n_waiting=_count(requests.filter(status=HelpRequestStatus.WAITING)),
            n_helping=_count(requests.filter(status=HelpRequestStatus.HELPING)),
            n_helped=_count(requests.filter(status=HelpRequestStatus.DONE)),
        )
        .values("n_rsvps", "n_present", "n_waiting", "n_helping", "n_helped")
        .get()
    )
    return SessionPanel(
        session=session,
        rsvps=counts["n_rsvps"],
        present=counts["n_present"],
        waiting=counts["n_waiting"],
        helping=counts["n_helping"],
        helped=counts["n_helped"],
    )


def _ended_sessions(cohort: Cohort) -> list[EndedSession]:
    """The latest ended sessions with their wait statistics: two queries (none for the statistics if none ended)."""
    sessions = list(
        OfficeHoursSession.objects.filter(cohort=cohort, status=SessionStatus.ENDED)
        .only("number", "title", "starts_at", "cohort_id")
        .order_by("-starts_at", "-number")[:ENDED_SESSIONS]
    )
    if not sessions:
        return []
    stats = wait_stats_for_sessions(session_ids=[s.pk for s in sessions])
    return [EndedSession(session=s, stats=stats[s.pk]) for s in sessions]


def _reviews(cohort: Cohort) -> ReviewPanel:
    open_prs = Submission.objects.filter(membership__cohort=cohort, state__in=OPEN_STATES, refused_reason="")
    rows = list(
        open_prs.select_related("exercise__step", "membership__user")
        .annotate(since=Coalesce("opened_at", "linked_at"))
        .order_by("since", "pk")[:PANEL_ROWS]
    )
    return ReviewPanel(waiting=open_prs.count(), oldest=rows[0] if rows else None, next_up=rows)


def lead_home(*, cohort: Cohort, now: dt.datetime | None = None) -> LeadHome:
    """Every panel of the lead home: a fixed number of queries (see the module docstring)."""
    now = now or timezone.now()
    open_blockers = CheckIn.objects.filter(
        membership__cohort=cohort, membership__role=Role.LEARNER, status=CheckInStatus.BLOCKED, resolved_at__isnull=True
    )
    blockers = list(
        open_blockers.select_related("membership__user", "step").order_by("-created_at", "-pk")[:PANEL_ROWS]
    )
    top = list(
        # Who-is-stuck's default order (open blockers, then the longest quiet) without the page's other
        # figures: building their correlated subqueries costs more than running this one.
        Membership.objects.filter(cohort=cohort, role=Role.LEARNER)
        .select_related("user")
        .annotate(
            open_blockers=_count(
                CheckIn.objects.filter(
                    membership=OuterRef("pk"), status=CheckInStatus.BLOCKED, resolved_at__isnull=True
                )
            ),
            active_since=Coalesce("last_activity_at", "joined_at"),
        )
        .order_by(*STUCK_ORDER["blockers"])[:PANEL_ROWS]
    )
    recent = list(
        CheckIn.objects.filter(membership__cohort=cohort, membership__role=Role.LEARNER)
        .select_related("membership__user", "step")
        .order_by("-created_at", "-pk")[:PANEL_ROWS]
    )
    return LeadHome(
        cohort=cohort,
        session=_session_panel(cohort, now),
        blockers=blockers,
        blocker_count=open_blockers.count(),
        reviews=_reviews(cohort),
        stuck=[
            StuckRow(
                membership=m,
                current_step=None,
                days_inactive=max(0, (now - m.active_since).days),
                never_active=m.last_activity_at is None,
                threshold=DEFAULT_DAYS,
            )
            for m in top
        ],
        check_ins=recent,
        now=now,
        ended=_ended_sessions(cohort),
    )
