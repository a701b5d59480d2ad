"""Sandbox runs: creating them within limits, executing them in a worker, cancelling them."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cohort import services as cohort_services
from cohort.models import Membership
from config.publish import (
    publish_after_commit,
)
from config.ratelimit import seconds_until_allowed
from inference import tasks
from inference.errors import Refused
from inference.models import LabJob, RunStatus, RunTokenChunk, SandboxModel, SandboxRun
from inference.selectors import streamed_tokens
from inference.signals import sandbox_work_finished

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
# Tokens reach the page within this (plus its 250 ms poll). Each save appends one
# small row of the new tokens.
SAVE_EVERY_SECONDS = 0.25
FIRST_TOKEN_POLL_SECONDS = 0.02


class RateLimited(Refused):
    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message)


class RunRejected(Refused):
    """A run that cannot even start (prompt too long for the context, model gone)."""


def new_seed() -> int:
    # Below 2**31 so every llama.cpp and numpy API accepts it, and easy to retype.
    return secrets.randbelow(2**31 - 1)


def _lock_membership(membership: Membership) -> None:
    """Serialize one learner's creates until the transaction ends.

    Without it two parallel POSTs both count the same active runs and both pass
    the "at once" limit (8 parallel POSTs all got 201 on PostgreSQL). On SQLite
    the row lock is a no-op; the IMMEDIATE transactions configured in settings
    serialize writers there.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock the membership inside a transaction")
    list(Membership.objects.select_for_update().filter(pk=membership.pk).values_list("pk", flat=True))


def run_check_limits(*, membership: Membership) -> None:
    """Raise RateLimited past the "at once" or the per-minute limit; call inside the creating transaction."""
    _lock_membership(membership)
    active = SandboxRun.objects.filter(membership=membership, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).count()
    if active >= settings.SANDBOX_CONCURRENT_RUNS:
        raise RateLimited(
            f"You already have {active} runs waiting or running; wait for one to finish or cancel it.", retry_after=5
        )
    retry = seconds_until_allowed(f"sandbox-runs:{membership.pk}", limit=settings.SANDBOX_RUNS_PER_MINUTE)
    if retry:
        raise RateLimited(f"At most {settings.SANDBOX_RUNS_PER_MINUTE} runs a minute; try again in {retry} s.", retry)


def lab_check_limits(*, membership: Membership) -> None:
    """The labs' limits, like runs': work waiting or running at once, and a quota a minute."""
    _lock_membership(membership)
    active = LabJob.objects.filter(membership=membership, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).count()
    if active >= settings.SANDBOX_CONCURRENT_LABS:
        raise RateLimited(f"You already have {active} labs waiting or running; wait for one to finish.", retry_after=5)
    retry = seconds_until_allowed(f"sandbox-labs:{membership.pk}", limit=settings.SANDBOX_LABS_PER_MINUTE)
    if retry:
        raise RateLimited(f"At most {settings.SANDBOX_LABS_PER_MINUTE} labs a minute; try again in {retry} s.", retry)


@transaction.atomic
def lab_create(*, membership: Membership, create: Callable[[], LabJob]) -> LabJob:
    """Create a lab job with `create` (a `labs.lab_*_create` call) within the learner's lab limits.

    The check and the insert share one transaction under the membership lock, so
    parallel requests cannot overshoot the limits.
    """
    lab_check_limits(membership=membership)
    return create()


def preview_check_limit(*, membership: Membership, kind: str, limit: int) -> None:
    """A per-learner budget a minute for cheap synchronous calls (render, tokenize, inspect, model list).

    A live preview while typing stays well below it; a script hammering the
    endpoint does not.
    """
    retry = seconds_until_allowed(f"sandbox-{kind}:{membership.pk}", limit=limit)
    if retry:
        raise RateLimited(f"At most {limit} requests a minute here; try again in {retry} s.", retry)


@transaction.atomic
def run_create(
    *, membership: Membership, model: SandboxModel, request: dict[str, Any], params: dict[str, Any], seed: int | None
) -> SandboxRun:
    """Record the run (the record is kept whatever happens next) and queue it after commit."""
    run_check_limits(membership=membership)
    seed = new_seed() if seed is None else seed
    run = SandboxRun.objects.create(
        membership=membership, model=model, request=request, params={**params, "seed": seed}, seed=seed
    )
    # Submitting is the learner's activity, whether or not the run later fails (the lead pages read it).
    cohort_services.membership_touch(membership=membership, at=run.created_at)
    publish_after_commit(tasks.execute_run, run_id=run.pk)
    return run


def run_cancel(*, run: SandboxRun) -> SandboxRun:
    """A queued run is cancelled at once; a running one stops at its next token."""
    now = timezone.now()
    if SandboxRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, finished_at=now, finish_reason="cancelled", cancel_requested=True
    ):
        _count_for_experiment(run.pk, {"status": RunStatus.CANCELLED})
        run.refresh_from_db()
        return run
    SandboxRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(cancel_requested=True)
    run.refresh_from_db()
    return run


def _claim(run_id: int, *, worker: str = "") -> SandboxRun | None:
    """Take the run for this worker; a run whose worker died gets one more attempt.

    A retry starts clean: tokens a dead worker streamed are dropped, so the
    retry's own chunks (which start at 0 again) never collide with them.
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = (
            SandboxRun.objects.filter(pk=run_id)
            .filter(Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING, attempts__lt=MAX_ATTEMPTS))
            .update(status=RunStatus.RUNNING, attempts=F("attempts") + 1, started_at=now, worker=worker)
        )
        if claimed:
            RunTokenChunk.objects.filter(run_id=run_id).delete()
    if claimed:
        return SandboxRun.objects.select_related("model", "membership").get(pk=run_id)
    if SandboxRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, attempts__gte=MAX_ATTEMPTS).exists():
        _finish(
            run_id,
            status=RunStatus.FAILED,
            finish_reason="error",
            error="The worker running this stopped unexpectedly twice; the run was not retried again.",
        )
    return None


def _claimable(run_id: int) -> SandboxRun | None:
    """The run if a claim could take it now (read only: the claim itself comes once a slot is free)."""
    return (
        SandboxRun.objects.select_related("model")
        .filter(pk=run_id)
        .filter(Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING, attempts__lt=MAX_ATTEMPTS))
        .first()
    )


@transaction.atomic
def _finish(run_id: int, **fields: Any) -> None:
    """Write the run's final state; tokens streamed so far are kept when none are given."""
    if "tokens" not in fields:
        fields["tokens"], fields["output_text"] = streamed_tokens(run_id=run_id)
    SandboxRun.objects.filter(pk=run_id).update(finished_at=timezone.now(), **fields)
    RunTokenChunk.objects.filter(run_id=run_id).delete()
    _count_for_experiment(run_id, fields)


def _count_for_experiment(run_id: int, fields: dict[str, Any]) -> None:
    # Imported here: inference.experiments starts runs through this module.
    from inference.experiments import record_run_end

    record_run_end(
        run_id=run_id,
        status=fields.get("status", ""),
        tokens=fields.get("tokens") or [],
        output_text=fields.get("output_text") or "",
    )


def _fail(run: SandboxRun, message: str, *, reason: str = "error") -> None:
    _finish(run.pk, status=RunStatus.FAILED, error=message, finish_reason=reason)


def internal_error_message(what: str, pk: int) -> str:
    """What a learner sees when something broke inside: never the exception text (it is logged)."""
    return (
        f"Something went wrong inside the sandbox while running this {what} (reference {pk}); "
        "try again, and tell your lead if it keeps happening."
    )


def time_limit_message(seconds: float) -> str:
    return f"The run took longer than {seconds:g} s and was stopped."


@dataclass
class _Progress:
    run_id: int
    last_save: float = 0.0
    saved: int = 0  # tokens already streamed
    cancel: bool = False

    def save(self, generation: Any, *, force: bool = False) -> None:
        now = time.monotonic()
        # The first token is saved as soon as it exists (time to first token); then every 0.25 s.
        first = self.saved == 0 and bool(generation.tokens)
        if not force and not first and now - self.last_save < SAVE_EVERY_SECONDS:
            return
        self.last_save = now
        tokens = generation.tokens[self.saved :]  # the engine thread appends meanwhile: one slice
        if tokens:
            RunTokenChunk.objects.create(
                run_id=self.run_id,
                start=self.saved,
                tokens=[t.as_dict() for t in tokens],
                output_text=generation.output_text,
            )
            self.saved += len(tokens)
        self.cancel = SandboxRun.objects.filter(pk=self.run_id, cancel_requested=True).exists()


def run_execute(
    *, run_id: int, worker: str = "", time_limits: tuple[float | None, float | None] = (None, None)
) -> str | None:
    """Execute a run in this worker process's batch engine for its model. Returns the final status.

    Called by the Celery task in a thread of the worker's pool: the run waits
    (still "queued", so its queue position stays true) until the engine has a
    slot for it, is claimed, joins the batch, and this thread streams its tokens
    to the database, checks cancel and enforces the time limits until it ends.
    `time_limits` is the task's (hard, soft) limits when given with the message.
    """
    from inference import batching
    from inference.chat_templates import TemplateRenderError
    from inference.generation import build_prompt_ids, sampler_params

    hard_limit = time_limits[0] or settings.SANDBOX_HARD_TIME_LIMIT
    soft_limit = min(time_limits[1] or settings.SANDBOX_SOFT_TIME_LIMIT, hard_limit)
    run = _claimable(run_id)
    if run is None:
        _claim(run_id)  # fails a run whose worker died twice; otherwise changes nothing
        return None
    try:
        engine, load_seconds = batching.engine_for(run.model.path)
        prompt = build_prompt_ids(engine.vocab_engine, run.model, run.request)
        max_tokens = int(run.params["max_tokens"])
        if len(prompt.ids) + max_tokens > engine.seq_ctx:
            raise RunRejected(
                f"The prompt has {len(prompt.ids)} tokens; with max_tokens {max_tokens} it needs more than the "
                f"{engine.seq_ctx}-token context of a run. Shorten the prompt or lower max_tokens."
            )
    except (RunRejected, TemplateRenderError) as exc:
        claimed = _claim(run_id, worker=worker)
        if claimed is None:
            return None
        prefix = "The chat template could not be rendered: " if isinstance(exc, TemplateRenderError) else ""
        _fail(claimed, f"{prefix}{exc}")
        return RunStatus.FAILED
    except Exception:
        logger.exception("run %s could not be prepared", run_id)
        claimed = _claim(run_id, worker=worker)
        if claimed is None:
            return None
        _fail(claimed, internal_error_message("run", run_id))
        return RunStatus.FAILED

    while not engine.reserve(run.membership_id):
        engine, _ = batching.engine_for(run.model.path)  # the engine was closed to make room: reload
    claimed = _claim(run_id, worker=worker)
    if claimed is None:  # cancelled while waiting, or another delivery took it
        engine.release(run.membership_id)
        return None
    run = claimed
    queued_ms = (run.started_at - run.created_at).total_seconds() * 1000 if run.started_at else 0.0
    SandboxRun.objects.filter(pk=run.pk).update(rendered_prompt=prompt.text, prompt_tokens=prompt.token_dicts)
    job = batching.Job(
        run_id=run.pk,
        learner=run.membership_id,
        prompt_ids=prompt.ids,
        params=sampler_params(run.params),
        seed=run.seed,
        max_tokens=max_tokens,
        top_n=int(run.params.get("top_n", 10)),
        forced=run.request.get("forced_tokens", []),
    )
    started = time.monotonic()
    engine.submit(job)
    progress = _Progress(run_id=run.pk)
    try:
        # Look often until the first token is out, then at the save interval.
        while not job.done.wait(SAVE_EVERY_SECONDS if progress.saved else FIRST_TOKEN_POLL_SECONDS):
            progress.save(job.generation)
            elapsed = time.monotonic() - started
            if progress.cancel:
                job.stop("cancelled")
            elif elapsed > soft_limit:
                job.stop("timeout")
            if elapsed > hard_limit + 1:
                # The engine did not let go of it (it should within a step): end the run anyway.
                _fail(run, time_limit_message(hard_limit), reason="timeout")
                return RunStatus.FAILED
        progress.save(job.generation, force=True)
    except Exception:
        job.stop("cancelled")
        logger.exception("run %s failed while streaming", run.pk)
        _fail(run, internal_error_message("run", run.pk))
        return RunStatus.FAILED
    generation = job.generation
    tokens = [t.as_dict() for t in generation.tokens]
    if job.error:
        _finish(run.pk, status=RunStatus.FAILED, error=job.error, finish_reason="error", tokens=tokens,
                output_text=generation.output_text)  # fmt: skip
        return RunStatus.FAILED
    if generation.finish_reason == "timeout":
        _finish(run.pk, status=RunStatus.FAILED, error=time_limit_message(soft_limit), finish_reason="timeout",
                tokens=tokens, output_text=generation.output_text)  # fmt: skip
        return RunStatus.FAILED
    status = RunStatus.CANCELLED if generation.finish_reason == "cancelled" else RunStatus.DONE
    n = len(generation.tokens)
    timings = {
        "queued_ms": round(queued_ms, 1),
        "load_ms": round(load_seconds * 1000, 1),
        "prompt_ms": round(generation.prompt_seconds * 1000, 1),
        "first_token_ms": round(generation.first_token_seconds * 1000, 1),
        "generate_ms": round(generation.generate_seconds * 1000, 1),
        "tokens_per_second": round(n / generation.generate_seconds, 2) if generation.generate_seconds > 0 else None,
        "model_loads_in_worker": batching.load_count,
    }
    _finish(
        run.pk,
        status=status,
        tokens=tokens,
        output_text=generation.output_text,
        finish_reason=generation.finish_reason,
        timings=timings,
    )
    # A sandbox run counts as activity for the lead's "last activity" column.
    cohort_services.membership_touch(membership=run.membership, at=timezone.now())
    if status == RunStatus.DONE:
        announce_finished_work(membership_id=run.membership_id)
    return status


def announce_finished_work(*, membership_id: int) -> None:
    """Tell other apps a run or lab of this member finished (exercises checks sandbox exercises).

    Through a signal: the exercises app builds on inference, never the other way.
    A receiver that fails (the broker is down) is logged; the finished run stays done.
    """
    for receiver, result in sandbox_work_finished.send_robust(sender=SandboxRun, membership_id=membership_id):
        if isinstance(result, Exception):
            logger.warning(
                "%s failed for membership %s",
                getattr(receiver, "__qualname__", receiver),
                membership_id,
                exc_info=result,
            )


class BranchError(Refused):
    """A branch that cannot be made; the message says why."""


@transaction.atomic
def run_branch(*, parent: SandboxRun, step: int, token_id: int) -> SandboxRun:
    """Continue `parent` from `step` with `token_id` there: same request, parameters and seed.

    The tokens before `step` and the new one are forced; the random stream
    advances as for drawn tokens, so the branch equals a fresh run forced through
    the same tokens.
    """
    if parent.status != RunStatus.DONE:
        raise BranchError("Only a finished run can be branched.")
    if not 0 <= step < len(parent.tokens):
        raise BranchError(f"step must be between 0 and {len(parent.tokens) - 1}.")
    if not 0 <= token_id < parent.model.n_vocab:
        raise BranchError(f"token_id must be between 0 and {parent.model.n_vocab - 1}.")
    run_check_limits(membership=parent.membership)
    forced = [token["id"] for token in parent.tokens[:step]] + [token_id]
    request = {**parent.request, "forced_tokens": forced}
    child = SandboxRun.objects.create(
        membership=parent.membership,
        model=parent.model,
        request=request,
        params=parent.params,
        seed=parent.seed,
        parent=parent,
        branch_step=step,
    )
    publish_after_commit(tasks.execute_run, run_id=child.pk)
    return child


def run_set_shared(*, run: SandboxRun, shared: bool) -> SandboxRun:
    """Show (or stop showing) a run to the owner's cohort; only the owner's view calls this."""
    run.shared = shared
    run.save(update_fields=["shared"])
    return run
