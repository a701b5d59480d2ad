"""Reads that pages need. Each runs a fixed number of queries, whatever the cohort size."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from allauth.account.models import EmailAddress
from django.core.paginator import Page, Paginator
from django.db.models import CharField, Count, F, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Lower, NullIf

from cohort.models import Cohort, Invitation, Membership, ProgressStatus, RoadmapStep, Role, StepProgress, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("cohort").order_by("-cohort__starts_on", "cohort__name")


def membership_for(*, user: User, cohort_slug: str) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.select_related("cohort", "user").filter(user=user, cohort__slug=cohort_slug).first()


def primary_membership(*, user: User) -> Membership | None:
    """The cohort a user lands in at `/`: the latest one they belong to."""
    return memberships_for_user(user=user).select_related("user").first()


@dataclass(frozen=True)
class StepWithProgress:
    step: RoadmapStep
    status: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    last_activity_at: datetime | None = None
    is_current: bool = False

    @property
    def status_label(self) -> str:
        return ProgressStatus(self.status).label


def _steps(cohort: Cohort) -> list[RoadmapStep]:
    return list(RoadmapStep.objects.filter(cohort=cohort).order_by("position"))


def _current_step_id(steps: list[RoadmapStep], progress: dict[int, StepProgress]) -> int | None:
    """The step the learner last focused on, unless it is done; else the first step not done."""
    focused = [(p.focused_at, p.step_id) for p in progress.values() if p.focused_at and not p.completed_at]
    if focused:
        return max(focused, key=lambda pair: pair[0])[1]
    for step in steps:
        row = progress.get(step.pk)
        if not (row and row.completed_at):
            return step.pk
    return None


def _with_progress(steps: list[RoadmapStep], progress: dict[int, StepProgress]) -> list[StepWithProgress]:
    current_id = _current_step_id(steps, progress)
    result = []
    for step in steps:
        row = progress.get(step.pk)
        result.append(
            StepWithProgress(
                step=step,
                status=row.status if row else ProgressStatus.NOT_STARTED,
                started_at=row.started_at if row else None,
                completed_at=row.completed_at if row else None,
                last_activity_at=row.last_activity_at if row else None,
                is_current=step.pk == current_id,
            )
        )
    return result


@dataclass
class Roadmap:
    steps: list[StepWithProgress]

    @property
    def current(self) -> StepWithProgress | None:
        return next((s for s in self.steps if s.is_current), None)

    @property
    def done_count(self) -> int:
        return sum(1 for s in self.steps if s.status == ProgressStatus.DONE)

    @property
    def percent_done(self) -> int:
        return round(100 * self.done_count / len(self.steps)) if self.steps else 0


def roadmap_for(*, membership: Membership) -> Roadmap:
    """The cohort's steps with this member's progress: two queries."""
    steps = _steps(membership.cohort)
    progress = {p.step_id: p for p in StepProgress.objects.filter(membership=membership)}
    return Roadmap(steps=_with_progress(steps, progress))


def step_for(*, cohort: Cohort, step_slug: str, with_resources: bool = True) -> RoadmapStep | None:
    """The cohort's step `step_slug`; with its resources (one more query) unless the page does not show them."""
    steps = RoadmapStep.objects.filter(cohort=cohort, slug=step_slug)
    if with_resources:
        steps = steps.prefetch_related(Prefetch("resources"))
    return steps.first()


def step_progress_for(*, membership: Membership, step: RoadmapStep) -> StepWithProgress:
    roadmap = roadmap_for(membership=membership)
    return next(s for s in roadmap.steps if s.step.pk == step.pk)


@dataclass(kw_only=True)
class LearnerRow(Roadmap):
    """One learner's roadmap in the lead overview."""

    membership: Membership


@dataclass
class CohortOverview:
    cohort: Cohort
    steps: list[RoadmapStep]
    rows: list[LearnerRow]
    page: Page[Membership]
    learner_count: int = 0
    staff: list[Membership] = field(default_factory=list)
    done_per_step: dict[int, int] = field(default_factory=dict)
    pending_invitations: int = 0


_DISPLAY_NAME = Lower(Coalesce(NullIf("user__name", Value("")), "user__email", output_field=CharField()))
_OVERVIEW_ORDER = {
    "name": (_DISPLAY_NAME.asc(), "pk"),
    "progress": (F("done_steps").desc(), _DISPLAY_NAME.asc(), "pk"),
    "activity": (F("last_activity_at").desc(nulls_last=True), "pk"),
    "inactive": (F("last_activity_at").asc(nulls_first=True), "pk"),
}
OVERVIEW_SORTS = tuple(_OVERVIEW_ORDER)
OVERVIEW_PAGE_SIZE = 50


def cohort_overview(*, cohort: Cohort, sort: str = "name", search: str = "", page: int | str = 1) -> CohortOverview:
    """Learners x steps matrix for a lead, one page at a time: a fixed number of queries for any cohort size.

    Sorting and paging happen in the database, so only the page's learners and
    their progress rows are loaded.
    """
    steps = _steps(cohort)
    learners = Membership.objects.filter(cohort=cohort, role=Role.LEARNER).select_related("user")
    if search:
        learners = learners.filter(
            Q(user__email__icontains=search)
            | Q(user__name__icontains=search)
            | Q(user__github_username__icontains=search)
        )
    if sort == "progress":
        learners = learners.annotate(
            done_steps=Count("step_progress", filter=Q(step_progress__completed_at__isnull=False))
        )
    learners = learners.order_by(*_OVERVIEW_ORDER.get(sort, _OVERVIEW_ORDER["name"]))
    page_obj = Paginator(learners, OVERVIEW_PAGE_SIZE).get_page(page)
    members = list(page_obj.object_list)
    by_member: dict[int, dict[int, StepProgress]] = {}
    for row in StepProgress.objects.filter(membership__in=[m.pk for m in members]):
        by_member.setdefault(row.membership_id, {})[row.step_id] = row
    rows = [LearnerRow(membership=m, steps=_with_progress(steps, by_member.get(m.pk, {}))) for m in members]
    done_per_step = {step.pk: 0 for step in steps}
    done_counts = (
        # Over every learner the search matches, not just this page.
        StepProgress.objects.filter(membership__in=learners.values("pk"), completed_at__isnull=False)
        .values("step_id")
        .annotate(n=Count("id"))
    )
    for item in done_counts:
        done_per_step[item["step_id"]] = item["n"]
    staff = list(Membership.objects.filter(cohort=cohort).exclude(role=Role.LEARNER).select_related("user"))
    pending = cohort.invitations.filter(accepted_at__isnull=True, declined_at__isnull=True).count()
    return CohortOverview(
        cohort=cohort,
        steps=steps,
        rows=rows,
        page=page_obj,
        learner_count=page_obj.paginator.count,
        staff=staff,
        done_per_step=done_per_step,
        pending_invitations=pending,
    )


def pending_invitations(*, user: User) -> list[Invitation]:
    """Roster invitations addressed to the user's verified emails that wait for an answer."""
    verified = [
        e.lower() for e in EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    ]
    return list(
        Invitation.objects.filter(email__in=verified, accepted_at__isnull=True, declined_at__isnull=True)
        .select_related("cohort", "invited_by")
        .order_by("created_at")
    )
