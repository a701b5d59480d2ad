"""Who is stuck: the reads behind the lead page that says which learners need help now.

Every figure is a correlated subquery annotated on the learners' memberships,
so one query gives every learner's figures, sorted, and the page runs the same
number of queries for 5 learners or 500:

- current step: the step the learner last focused that is not done, else the
  first step not done (the same rule as `cohort.selectors.roadmap_for`);
- days inactive: since `Membership.last_activity_at` (PR events, check-ins,
  sandbox runs, questions and attendance move it), or since joining if never;
- open blockers: blocked check-ins not resolved yet;
- stalled submissions: open pull requests with no review yet, and ones whose
  latest "changes requested" review is older than N days;
- missed sessions: the cohort's ended sessions that started after the learner
  joined and that they did not attend (and, of those, the ones they had RSVP'd to).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.core.paginator import Page, Paginator
from django.db.models import (
    CharField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Lower, NullIf
from django.utils import timezone

from cohort.models import (
    CheckIn,
    CheckInStatus,
    Cohort,
    Membership,
    OfficeHoursSession,
    RoadmapStep,
    Role,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
    StepProgress,
)
from exercises.models import Review, Submission, SubmissionState

DEFAULT_DAYS = 3
MAX_DAYS = 90
STUCK_PAGE_SIZE = 50

_DISPLAY_NAME = Lower(Coalesce(NullIf("user__name", Value("")), "user__email", output_field=CharField()))


def _count(queryset: QuerySet[Any]) -> Coalesce:
    """COUNT(*) of a correlated queryset as a scalar subquery (no GROUP BY, so no join fan-out)."""
    counted = queryset.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def ended_session_ids(*, cohort: Cohort, now: dt.datetime) -> list[int]:
    """Sessions that are over: ended by a lead, or scheduled and past their end (nobody pressed "end")."""
    sessions = OfficeHoursSession.objects.filter(cohort=cohort, starts_at__lt=now).exclude(status=SessionStatus.LIVE)
    return [
        s.pk
        for s in sessions.only("pk", "status", "starts_at", "duration_minutes")
        if s.status == SessionStatus.ENDED or s.ends_at <= now
    ]


def stuck_learners(*, cohort: Cohort, days: int, ended_ids: list[int], now: dt.datetime) -> QuerySet[Membership]:
    """The cohort's learners with every who-is-stuck figure annotated (see the module docstring)."""
    cutoff = now - dt.timedelta(days=days)
    member = OuterRef("pk")
    focused = (
        StepProgress.objects.filter(membership=member, focused_at__isnull=False, completed_at__isnull=True)
        .order_by("-focused_at", "-pk")
        .values("step_id")[:1]
    )
    first_not_done = (
        RoadmapStep.objects.filter(cohort=cohort)
        .exclude(
            Exists(
                StepProgress.objects.filter(
                    membership=OuterRef(OuterRef("pk")), step=OuterRef("pk"), completed_at__isnull=False
                )
            )
        )
        .order_by("position")
        .values("pk")[:1]
    )
    waiting = (
        Submission.objects.filter(
            membership=member, state=SubmissionState.OPEN, first_review_at__isnull=True, refused_reason=""
        )
        .alias(since=Coalesce("opened_at", "linked_at"))
        .filter(since__lt=cutoff)
    )
    changes = Submission.objects.filter(
        membership=member, state=SubmissionState.CHANGES_REQUESTED, refused_reason=""
    ).exclude(
        Exists(Review.objects.filter(submission=OuterRef("pk"), state="changes_requested", submitted_at__gte=cutoff))
    )
    missed = OfficeHoursSession.objects.filter(pk__in=ended_ids, starts_at__gte=OuterRef("joined_at")).exclude(
        Exists(SessionAttendance.objects.filter(session=OuterRef("pk"), membership=OuterRef(OuterRef("pk"))))
    )
    rsvp = SessionRSVP.objects.filter(session=OuterRef("pk"), membership=OuterRef(OuterRef("pk")))
    open_blockers = CheckIn.objects.filter(membership=member, status=CheckInStatus.BLOCKED, resolved_at__isnull=True)
    return (
        Membership.objects.filter(cohort=cohort, role=Role.LEARNER)
        .select_related("user")
        .annotate(
            current_step_id=Coalesce(Subquery(focused), Subquery(first_not_done), output_field=IntegerField()),
            active_since=Coalesce("last_activity_at", "joined_at"),
            open_blockers=_count(open_blockers),
            waiting_reviews=_count(waiting),
            changes_stalled=_count(changes),
            missed_sessions=_count(missed),
            missed_after_rsvp=_count(missed.filter(Exists(rsvp))),
        )
        .annotate(stalled_submissions=F("waiting_reviews") + F("changes_stalled"))
    )


_ORDER = {
    # Open blockers first: they asked for help. Then whoever has been quiet longest.
    "blockers": (F("open_blockers").desc(), F("active_since").asc(), _DISPLAY_NAME.asc(), "pk"),
    "inactive": (F("active_since").asc(), _DISPLAY_NAME.asc(), "pk"),
    "submissions": (F("stalled_submissions").desc(), F("active_since").asc(), _DISPLAY_NAME.asc(), "pk"),
    "missed": (F("missed_sessions").desc(), F("active_since").asc(), _DISPLAY_NAME.asc(), "pk"),
    "name": (_DISPLAY_NAME.asc(), "pk"),
}
STUCK_SORTS = tuple(_ORDER)
SORT_LABELS = [
    ("blockers", "Open blockers"),
    ("inactive", "Longest inactive"),
    ("submissions", "Stalled pull requests"),
    ("missed", "Missed sessions"),
    ("name", "Name"),
]


@dataclass(frozen=True)
class StuckFilters:
    sort: str = "blockers"
    days: int = DEFAULT_DAYS
    only_blocked: bool = False
    only_inactive: bool = False
    step_slug: str = ""

    @classmethod
    def from_query(cls, query: dict[str, str]) -> StuckFilters:
        """Read the page's GET parameters; anything unreadable falls back to the default instead of failing."""
        sort = query.get("sort", "")
        try:
            days = int(query.get("days", DEFAULT_DAYS))
        except (TypeError, ValueError):
            days = DEFAULT_DAYS
        return cls(
            sort=sort if sort in _ORDER else "blockers",
            days=min(max(days, 1), MAX_DAYS),
            only_blocked=query.get("blocked") == "1",
            only_inactive=query.get("inactive") == "1",
            step_slug=query.get("step", "")[:80],
        )


@dataclass
class StuckRow:
    membership: Membership
    current_step: RoadmapStep | None
    days_inactive: int
    never_active: bool
    threshold: int
    blockers: list[CheckIn] = field(default_factory=list)

    @property
    def is_inactive(self) -> bool:
        return self.days_inactive >= self.threshold


@dataclass
class StuckSummary:
    learners: int = 0
    blocked: int = 0
    inactive: int = 0
    stalled: int = 0
    missed_any: int = 0


@dataclass
class StuckPage:
    cohort: Cohort
    filters: StuckFilters
    steps: list[RoadmapStep]
    step: RoadmapStep | None
    rows: list[StuckRow]
    page: Page[_Figures]
    summary: StuckSummary
    ended_sessions: int
    now: dt.datetime

    @property
    def filtered(self) -> bool:
        return self.filters.only_blocked or self.filters.only_inactive or self.step is not None


class _Figures(NamedTuple):
    pk: int
    current_step_id: int | None
    active_since: dt.datetime
    open_blockers: int
    waiting_reviews: int
    changes_stalled: int
    stalled_submissions: int
    missed_sessions: int
    missed_after_rsvp: int


def stuck_page(
    *, cohort: Cohort, filters: StuckFilters, page: int | str = 1, now: dt.datetime | None = None
) -> StuckPage:
    """One page of the who-is-stuck table plus cohort-wide counts: five queries whatever the cohort size.

    Steps, ended sessions, every learner's figures (one query of correlated
    subqueries, sorted in the database, read as plain tuples), the page's
    learners, and their open blockers. The summary, the filters and the paging
    work on the figures in Python: a cohort is hundreds of learners, and running
    the subqueries once instead of three times (summary, count, page) while
    building model instances for the page's 50 only is most of the page's time.
    """
    now = now or timezone.now()
    steps = list(RoadmapStep.objects.filter(cohort=cohort).order_by("position"))
    step = next((s for s in steps if s.slug == filters.step_slug), None)
    ended_ids = ended_session_ids(cohort=cohort, now=now)
    figures = [
        _Figures(*values)
        for values in stuck_learners(cohort=cohort, days=filters.days, ended_ids=ended_ids, now=now)
        .order_by(*_ORDER[filters.sort])
        .values_list(*_Figures._fields)
    ]
    cutoff = now - dt.timedelta(days=filters.days)
    summary = StuckSummary(
        learners=len(figures),
        blocked=sum(1 for f in figures if f.open_blockers > 0),
        inactive=sum(1 for f in figures if f.active_since < cutoff),
        stalled=sum(1 for f in figures if f.stalled_submissions > 0),
        missed_any=sum(1 for f in figures if f.missed_sessions > 0),
    )
    matching = [
        f
        for f in figures
        if (not filters.only_blocked or f.open_blockers > 0)
        and (not filters.only_inactive or f.active_since < cutoff)
        and (step is None or f.current_step_id == step.pk)
    ]
    page_obj = Paginator(matching, STUCK_PAGE_SIZE).get_page(page)
    by_pk = Membership.objects.select_related("user").in_bulk([f.pk for f in page_obj.object_list])
    members = []
    for f in page_obj.object_list:
        member = by_pk.get(f.pk)
        if member is None:  # left the cohort between the two reads
            continue
        # The figures ride on the instance, where the table reads them (m.open_blockers, ...).
        for name, value in f._asdict().items():
            setattr(member, name, value)
        members.append(member)
    blockers: dict[int, list[CheckIn]] = {}
    for check_in in (
        CheckIn.objects.filter(
            membership__in=[m.pk for m in members], status=CheckInStatus.BLOCKED, resolved_at__isnull=True
        )
        .select_related("step")
        .order_by("created_at", "pk")
    ):
        blockers.setdefault(check_in.membership_id, []).append(check_in)
    by_id = {s.pk: s for s in steps}
    rows = []
    for m in members:
        rows.append(
            StuckRow(
                membership=m,
                # The figures ride on the instance (the setattr loop above).
                current_step=by_id.get(m.current_step_id),  # type: ignore[attr-defined]
                days_inactive=max(0, (now - m.active_since).days),  # type: ignore[attr-defined]
                never_active=m.last_activity_at is None,
                blockers=blockers.get(m.pk, []),
                threshold=filters.days,
            )
        )
    return StuckPage(
        cohort=cohort,
        filters=filters,
        steps=steps,
        step=step,
        rows=rows,
        page=page_obj,
        summary=summary,
        ended_sessions=len(ended_ids),
        now=now,
    )


def open_blocker_count(*, cohort: Cohort) -> int:
    """Learners of the cohort with an open blocker: the badge on the lead pages' navigation (one query)."""
    return (
        CheckIn.objects.filter(
            membership__cohort=cohort,
            membership__role=Role.LEARNER,
            status=CheckInStatus.BLOCKED,
            resolved_at__isnull=True,
        )
        .values("membership_id")
        .distinct()
        .count()
    )


def blocker_for(*, cohort: Cohort, check_in_id: int) -> CheckIn | None:
    """A blocked check-in of this cohort; another cohort's is not found."""
    return (
        CheckIn.objects.select_related("membership__user", "step")
        .filter(pk=check_in_id, membership__cohort=cohort, status=CheckInStatus.BLOCKED)
        .first()
    )
