"""Live cohort experiments: a lead starts one, each learner runs it once, the results are counted as runs end.

Direction: inference -> cohort (experiments belong to a cohort and maybe a
session); the cohort app shows the cards and the recap chart through the
`experiments` template tags and never imports this module.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from cohort.models import Membership, OfficeHoursSession, Role, SessionStatus
from inference.errors import Refused
from inference.models import Experiment, ExperimentRun, ExperimentStatus, RunStatus, SandboxModel, SandboxRun

MAX_ARMS = 8
MAX_RUNS_PER_LEARNER = 10
OUTPUT_TEXT_KEPT = 2000


class ExperimentRefused(Refused):
    """A request the rules refuse; `status` is the HTTP answer, `field` the input it is about (if any)."""

    def __init__(self, message: str, *, status: int = 400, field: str | None = None) -> None:
        self.status = status
        self.field = field
        super().__init__(message)


def closed_message(experiment: Experiment) -> str:
    return f"“{experiment.title}” is closed: the lead is not taking new runs for it any more."


@transaction.atomic
def experiment_start(
    *,
    membership: Membership,
    title: str,
    model: SandboxModel,
    request: dict[str, Any],
    params: dict[str, Any],
    temperatures: list[float],
    runs_per_learner: int = 1,
    session: OfficeHoursSession | None = None,
) -> Experiment:
    """Record an experiment of the lead's cohort; with a session, the session must be this cohort's and live."""
    if membership.role != Role.LEAD:
        raise ExperimentRefused("Only the cohort's leads can start an experiment.", status=403)
    if not 1 <= len(temperatures) <= MAX_ARMS:
        raise ExperimentRefused(f"Give between 1 and {MAX_ARMS} temperatures.", field="temperatures")
    if not 1 <= runs_per_learner <= MAX_RUNS_PER_LEARNER:
        raise ExperimentRefused(
            f"runs_per_learner must be between 1 and {MAX_RUNS_PER_LEARNER}.", field="runs_per_learner"
        )
    if session is not None:
        if session.cohort_id != membership.cohort_id:
            raise ExperimentRefused("No such session in this cohort.", field="session")
        if session.status != SessionStatus.LIVE:
            raise ExperimentRefused("Start experiments while the session is live.", field="session")
    # The seed is each learner's own; the temperature is the arm's.
    shared = {k: v for k, v in params.items() if k not in ("seed", "temperature")}
    return Experiment.objects.create(
        cohort=membership.cohort,
        session=session,
        created_by=membership,
        title=title,
        model=model,
        request=request,
        params=shared,
        temperatures=[float(t) for t in temperatures],
        runs_per_learner=runs_per_learner,
    )


@transaction.atomic
def experiment_run(*, experiment: Experiment, membership: Membership) -> tuple[SandboxRun, ExperimentRun]:
    """Start the learner's run through the normal run path (their limits, a fresh recorded seed).

    The experiment row is locked so that parallel clicks get consecutive arms
    (round robin over all of the experiment's runs) and one learner's two
    parallel clicks cannot both pass the per-learner limit.
    """
    from inference import services

    if membership.cohort_id != experiment.cohort_id:
        raise ExperimentRefused("No such experiment.", status=404)
    locked = Experiment.objects.select_for_update().select_related("model").get(pk=experiment.pk)
    if locked.status != ExperimentStatus.OPEN:
        raise ExperimentRefused(closed_message(locked), status=409)
    mine = ExperimentRun.objects.filter(experiment=locked, membership=membership).count()
    if mine >= locked.runs_per_learner:
        allowed = "once" if locked.runs_per_learner == 1 else f"{locked.runs_per_learner} times"
        raise ExperimentRefused(
            f"You have already run this experiment: the lead allowed each learner to run it {allowed}.", status=409
        )
    if not locked.model.available:
        raise ExperimentRefused(f"The model {locked.model.slug} is not available any more.", status=409)
    arm = ExperimentRun.objects.filter(experiment=locked).count() % len(locked.temperatures)
    params = {**locked.params, "temperature": locked.temperatures[arm]}
    run = services.run_create(
        membership=membership, model=locked.model, request=locked.request, params=params, seed=None
    )
    entry = ExperimentRun.objects.create(experiment=locked, run=run, membership=membership, arm=arm)
    return run, entry


def experiment_close(*, experiment: Experiment) -> Experiment:
    """Stop taking runs; runs already started still finish and count. Closing twice changes nothing."""
    Experiment.objects.filter(pk=experiment.pk, status=ExperimentStatus.OPEN).update(
        status=ExperimentStatus.CLOSED, closed_at=timezone.now()
    )
    experiment.refresh_from_db()
    return experiment


def reopen_refusal(experiment: Experiment) -> str | None:
    """Why the experiment cannot be reopened, or None when it can (the page shows the button only then).

    One started in a session reopens only while that session is live, the rule
    that let it start: its results are that room's, and may already be on the
    session's recap, so runs added after the session ended would be counted as the
    room's without having been. To keep sampling afterwards, the lead starts a new
    experiment from the sandbox.
    """
    session = experiment.session
    if session is None or session.status == SessionStatus.LIVE:
        return None
    if session.status == SessionStatus.ENDED:
        return (
            f"Session {session.number} has ended and these results are that room's: "
            "start a new experiment from the sandbox to keep sampling."
        )
    return f"Session {session.number} is not live: reopen the experiment while it is."


def experiment_reopen(*, experiment: Experiment, membership: Membership) -> Experiment:
    """Take runs again after a close (the cohort's leads only). Reopening an open experiment changes nothing.

    Runs from before the close still count, and each learner's limit counts them too.
    """
    if membership.cohort_id != experiment.cohort_id:
        raise ExperimentRefused("No such experiment.", status=404)
    if membership.role != Role.LEAD:
        raise ExperimentRefused("Only the cohort's leads can reopen an experiment.", status=403)
    if experiment.is_open:
        return experiment
    refusal = reopen_refusal(experiment)
    if refusal is not None:
        raise ExperimentRefused(refusal, status=409)
    Experiment.objects.filter(pk=experiment.pk, status=ExperimentStatus.CLOSED).update(
        status=ExperimentStatus.OPEN, closed_at=None
    )
    experiment.refresh_from_db()
    return experiment


def run_facts(tokens: list[dict[str, Any]], output_text: str) -> dict[str, Any]:
    """What the results need from a finished run, computed once."""
    first = tokens[0] if tokens else None
    entropies = [t["entropy_bits"] for t in tokens if t.get("entropy_bits") is not None]
    return {
        "first_token_id": first["id"] if first else None,
        "first_token_text": (first.get("text") or "")[:200] if first else "",
        "first_token_p": first.get("p_sampled") if first else None,
        "first_top_sampled": (first.get("top_sampled") or []) if first else [],
        "output_hash": hashlib.sha256(output_text.encode("utf-8", "surrogatepass")).hexdigest(),
        "output_text": output_text[:OUTPUT_TEXT_KEPT],
        "mean_entropy_bits": sum(entropies) / len(entropies) if entropies else None,
    }


def record_run_end(*, run_id: int, status: str, tokens: list[dict[str, Any]], output_text: str) -> int:
    """Store an experiment run's facts when its run ends (called where every run ends: services._finish).

    One UPDATE, and only while `ended_at` is empty: a run that is not part of an
    experiment costs one query that changes nothing, and an end recorded twice
    (a task delivered twice, the sweep after the worker) is counted once.
    """
    facts = run_facts(tokens, output_text) if status == RunStatus.DONE else {}
    return ExperimentRun.objects.filter(run_id=run_id, ended_at__isnull=True).update(
        ended_at=timezone.now(), status=status, **facts
    )


def experiment_attach_to_recap(*, experiment: Experiment, results: dict[str, Any]) -> Experiment:
    """Store the chart (SVG drawn from the numbers) and the numbers; the session's recap page shows them."""
    from inference.experiment_chart import results_svg

    if experiment.session_id is None:
        raise ExperimentRefused("This experiment was not started in a session, so it has no recap to go to.")
    numbers = {key: value for key, value in results.items() if key != "runs"}  # never who produced what
    experiment.recap_svg = results_svg(numbers)
    experiment.recap_numbers = numbers
    experiment.recap_attached_at = timezone.now()
    experiment.save(update_fields=["recap_svg", "recap_numbers", "recap_attached_at"])
    return experiment
