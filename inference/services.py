"""Sandbox runs: creating them within limits, executing them in a worker, cancelling them."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cohort import services as cohort_services
from cohort.models import Membership
from config.ratelimit import seconds_until_allowed
from inference import tasks
from inference.models import RunStatus, RunTokenChunk, SandboxModel, SandboxRun
from inference.selectors import streamed_tokens

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
# Tokens reach the page within this (plus its 250 ms poll). Each save appends one
# small row of the new tokens.
SAVE_EVERY_SECONDS = 0.25


class RateLimited(Exception):
    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message)


class RunRejected(Exception):
    """A run that cannot even start (prompt too long for the context, model gone)."""


def new_seed() -> int:
    # Below 2**31 so every llama.cpp and numpy API accepts it, and easy to retype.
    return secrets.randbelow(2**31 - 1)


def run_check_limits(*, membership: Membership) -> None:
    active = SandboxRun.objects.filter(membership=membership, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).count()
    if active >= settings.SANDBOX_CONCURRENT_RUNS:
        raise RateLimited(
            f"You already have {active} runs waiting or running; wait for one to finish or cancel it.", retry_after=5
        )
    retry = seconds_until_allowed(f"sandbox-runs:{membership.pk}", limit=settings.SANDBOX_RUNS_PER_MINUTE)
    if retry:
        raise RateLimited(f"At most {settings.SANDBOX_RUNS_PER_MINUTE} runs a minute; try again in {retry} s.", retry)


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
    tasks.execute_run.delay_on_commit(run_id=run.pk)
    return run


def run_cancel(*, run: SandboxRun) -> SandboxRun:
    """A queued run is cancelled at once; a running one stops at its next token."""
    now = timezone.now()
    if SandboxRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, finished_at=now, finish_reason="cancelled", cancel_requested=True
    ):
        run.refresh_from_db()
        return run
    SandboxRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(cancel_requested=True)
    run.refresh_from_db()
    return run


def _claim(run_id: int) -> SandboxRun | None:
    """Take the run for this worker; a run whose worker died gets one more attempt."""
    now = timezone.now()
    claimed = (
        SandboxRun.objects.filter(pk=run_id)
        .filter(Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING, attempts__lt=MAX_ATTEMPTS))
        .update(status=RunStatus.RUNNING, attempts=F("attempts") + 1, started_at=now)
    )
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


@transaction.atomic
def _finish(run_id: int, **fields: Any) -> None:
    """Write the run's final state; tokens streamed so far are kept when none are given."""
    if "tokens" not in fields:
        fields["tokens"], fields["output_text"] = streamed_tokens(run_id=run_id)
    SandboxRun.objects.filter(pk=run_id).update(finished_at=timezone.now(), **fields)
    RunTokenChunk.objects.filter(run_id=run_id).delete()


def _fail(run: SandboxRun, message: str, *, reason: str = "error") -> None:
    _finish(run.pk, status=RunStatus.FAILED, error=message, finish_reason=reason)


@dataclass
class _Progress:
    run_id: int
    last_save: float = 0.0
    saved: int = 0  # tokens already streamed
    cancel: bool = False

    def save(self, generation: Any, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_save < SAVE_EVERY_SECONDS:
            return
        self.last_save = now
        new = generation.tokens[self.saved :]
        if new:
            RunTokenChunk.objects.create(
                run_id=self.run_id,
                start=self.saved,
                tokens=[t.as_dict() for t in new],
                output_text=generation.output_text,
            )
            self.saved += len(new)
        self.cancel = SandboxRun.objects.filter(pk=self.run_id, cancel_requested=True).exists()


def run_execute(*, run_id: int) -> str | None:
    """Execute a claimed run in this worker child. Returns the final status."""
    from celery.exceptions import SoftTimeLimitExceeded

    from inference import engine as engine_module
    from inference.generation import build_prompt_ids, sampler_params

    run = _claim(run_id)
    if run is None:
        return None
    queued_ms = (run.started_at - run.created_at).total_seconds() * 1000 if run.started_at else 0.0
    progress = _Progress(run_id=run.pk)
    try:
        llm, load_seconds = engine_module.load_model(run.model.path, n_ctx=settings.SANDBOX_N_CTX)
        engine = engine_module.Engine(llm)
        prompt = build_prompt_ids(engine, run.model, run.request)
        max_tokens = int(run.params["max_tokens"])
        if len(prompt.ids) + max_tokens > settings.SANDBOX_N_CTX:
            raise RunRejected(
                f"The prompt has {len(prompt.ids)} tokens; with max_tokens {max_tokens} it needs more than the "
                f"{settings.SANDBOX_N_CTX}-token context. Shorten the prompt or lower max_tokens."
            )
        SandboxRun.objects.filter(pk=run.pk).update(rendered_prompt=prompt.text, prompt_tokens=prompt.token_dicts)
        generation = engine.generate(
            prompt.ids,
            params=sampler_params(run.params),
            seed=run.seed,
            max_tokens=max_tokens,
            top_n_count=int(run.params.get("top_n", 10)),
            on_token=lambda _token, gen: progress.save(gen),
            should_stop=lambda: progress.cancel,
            forced=run.request.get("forced_tokens", []),
        )
    except SoftTimeLimitExceeded:
        _fail(run, f"The run took longer than {settings.SANDBOX_SOFT_TIME_LIMIT} s and was stopped.", reason="timeout")
        return RunStatus.FAILED
    except RunRejected as exc:
        _fail(run, str(exc))
        return RunStatus.FAILED
    except Exception as exc:
        from inference.chat_templates import TemplateRenderError

        if isinstance(exc, TemplateRenderError):
            _fail(run, f"The chat template could not be rendered: {exc}")
            return RunStatus.FAILED
        logger.exception("run %s failed", run.pk)
        _fail(run, f"{type(exc).__name__}: {exc}")
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
        "model_loads_in_worker": engine_module.load_count,
    }
    _finish(
        run.pk,
        status=status,
        tokens=[t.as_dict() for t in generation.tokens],
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
    """Let the exercises app check sandbox exercises; by task name, so neither app imports the other."""
    from celery import current_app

    try:
        current_app.send_task(
            "exercises.check_sandbox_exercises", kwargs={"membership_id": membership_id}, queue="default"
        )
    except Exception:
        logger.warning("could not publish the sandbox exercise check for membership %s", membership_id, exc_info=True)


def runs_sweep_stuck() -> int:
    """Fail runs still "running" well past the hard time limit: nothing is left running forever."""
    cutoff = timezone.now() - timedelta(seconds=settings.SANDBOX_HARD_TIME_LIMIT * 2)
    stuck = list(
        SandboxRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=cutoff).values_list("pk", flat=True)
    )
    for run_id in stuck:
        _finish(
            run_id,
            status=RunStatus.FAILED,
            finish_reason="error",
            error="The worker running this stopped responding; the run was marked failed.",
        )
    return len(stuck)


class BranchError(Exception):
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
    tasks.execute_run.delay_on_commit(run_id=child.pk)
    return child


def run_set_shared(*, run: SandboxRun, shared: bool) -> SandboxRun:
    """Show (or stop showing) a run to the owner's cohort; only the owner's view calls this."""
    run.shared = shared
    run.save(update_fields=["shared"])
    return run
