"""The per-learner page a cohort's leads and mentors open from any learner's name.

Progress by step, submissions with their timelines, check-ins, attendance and
sandbox activity. Sandbox runs are shown as counts and as the runs that
completed an exercise (model, sampling, when), never with what the learner
typed: a lab's input is only linked when the learner shared it with the cohort.

A fixed number of queries whatever the learner has done (every list is
bounded or loaded in one query with its children prefetched).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Max, Prefetch, Q
from django.utils import timezone

from cohort.check_ins.services import own_check_ins
from cohort.models import CheckIn, Cohort, Membership, Role
from cohort.office_hours.live_selectors import AttendanceHistory, attendance_history
from cohort.selectors import Roadmap, roadmap_for
from exercises.models import ExerciseCompletion, Submission, TimelineEvent
from inference.models import LabJob, RunStatus, SandboxRun

SUBMISSIONS_SHOWN = 50
CHECK_INS_SHOWN = 20


def learner_for(*, cohort: Cohort, membership_id: int) -> Membership | None:
    """A learner (or any member) of this cohort; another cohort's membership is not found."""
    return Membership.objects.select_related("user", "cohort").filter(cohort=cohort, pk=membership_id).first()


@dataclass
class EvidenceRow:
    exercise_title: str
    completed_at: dt.datetime
    run: SandboxRun | None = None
    lab: LabJob | None = None


@dataclass
class SandboxActivity:
    runs: int = 0
    runs_done: int = 0
    runs_failed: int = 0
    labs: int = 0
    labs_shared: int = 0
    last_run_at: dt.datetime | None = None
    evidence: list[EvidenceRow] = field(default_factory=list)


@dataclass
class LearnerPage:
    membership: Membership
    roadmap: Roadmap
    submissions: list[Submission]
    check_ins: list[CheckIn]
    attendance: AttendanceHistory
    sandbox: SandboxActivity
    open_blockers: int


def _sandbox(membership: Membership) -> SandboxActivity:
    runs = SandboxRun.objects.filter(membership=membership).aggregate(
        runs=Count("pk"),
        runs_done=Count("pk", filter=Q(status=RunStatus.DONE)),
        runs_failed=Count("pk", filter=Q(status=RunStatus.FAILED)),
        last_run_at=Max("created_at"),
    )
    labs = LabJob.objects.filter(membership=membership).aggregate(
        labs=Count("pk"), labs_shared=Count("pk", filter=Q(shared=True))
    )
    completions = list(
        ExerciseCompletion.objects.filter(membership=membership)
        .exclude(evidence={})
        .select_related("exercise")
        .order_by("completed_at", "pk")
    )
    run_ids = [c.evidence.get("run") for c in completions if isinstance(c.evidence.get("run"), int)]
    lab_ids = [c.evidence.get("lab") for c in completions if isinstance(c.evidence.get("lab"), int)]
    # Only the fields the page shows: the prompt, messages and output stay out of the query.
    by_run = {
        r.pk: r
        for r in SandboxRun.objects.filter(membership=membership, pk__in=run_ids)
        .select_related("model")
        .only("pk", "status", "params", "seed", "created_at", "finish_reason", "model__slug", "model__name")
    }
    by_lab = {
        j.pk: j
        for j in LabJob.objects.filter(membership=membership, pk__in=lab_ids).only(
            "pk", "kind", "status", "shared", "created_at"
        )
    }
    evidence = [
        EvidenceRow(
            exercise_title=c.exercise.title,
            completed_at=c.completed_at,
            run=by_run.get(c.evidence.get("run")),
            lab=by_lab.get(c.evidence.get("lab")),
        )
        for c in completions
    ]
    return SandboxActivity(**runs, **labs, evidence=evidence)


def learner_page(*, membership: Membership, now: dt.datetime | None = None) -> LearnerPage:
    now = now or timezone.now()
    submissions = list(
        Submission.objects.filter(membership=membership)
        .select_related("exercise__step")
        .prefetch_related(Prefetch("timeline", queryset=TimelineEvent.objects.order_by("occurred_at", "pk")))
        .order_by("-linked_at", "-pk")[:SUBMISSIONS_SHOWN]
    )
    open_blockers = (
        CheckIn.objects.filter(membership=membership, status="blocked", resolved_at__isnull=True).count()
        if membership.role == Role.LEARNER
        else 0
    )
    return LearnerPage(
        membership=membership,
        roadmap=roadmap_for(membership=membership),
        submissions=submissions,
        check_ins=own_check_ins(membership=membership, limit=CHECK_INS_SHOWN),
        attendance=attendance_history(membership=membership, now=now),
        sandbox=_sandbox(membership),
        open_blockers=open_blockers,
    )
