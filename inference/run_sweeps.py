"""The beat sweep for sandbox runs and labs: time limits, dead workers, lost messages.

Split from `inference.services` (which creates, executes and cancels runs); the sweep only repairs
what a crash, a restart or a lost broker message left behind, through the same `_finish`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.publish import publish_after_commit_or_leave_to_sweep, publish_now_or_leave_to_sweep
from inference import tasks
from inference.models import RunStatus, RunTokenChunk, SandboxRun
from inference.services import MAX_ATTEMPTS, _finish, time_limit_message

logger = logging.getLogger(__name__)


def _worker_alive(worker: str, live: dict[str, dict[str, Any]]) -> bool:
    """Whether the worker process `hostname:pid` still heartbeats (a restarted worker has another pid)."""
    host, _, pid = worker.rpartition(":")
    beat = live.get(host)
    return beat is not None and str(beat.get("pid", pid)) == pid


def runs_sweep_stuck() -> int:
    """The beat sweep for runs and labs; safe to run twice, or in two beats at once. Returns what it changed.

    - work still running past the hard time limit ends with the time-limit message;
    - work whose worker process stopped heartbeating is queued again (one more
      attempt) or failed with a clear message;
    - work still queued long after it was published (the broker was down, the
      message was lost) is published again.
    """
    from config.health import live_workers
    from inference.models import LabJob

    now = timezone.now()
    changed = 0
    hard = settings.SANDBOX_HARD_TIME_LIMIT
    over = now - timedelta(seconds=hard + 2)
    for run_id in SandboxRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=over).values_list("pk", flat=True):
        _finish(run_id, status=RunStatus.FAILED, finish_reason="timeout", error=time_limit_message(hard))
        changed += 1
    changed += LabJob.objects.filter(status=RunStatus.RUNNING, started_at__lt=over).update(
        status=RunStatus.FAILED, error=f"The lab took longer than {hard} s and was stopped.", finished_at=now
    )

    try:
        live = live_workers()
    except Exception:
        logger.warning("the sweep cannot read worker heartbeats; dead workers are looked for next time", exc_info=True)
        live = None
    if live is not None:
        # A worker that just claimed has heartbeated for a while; give fresh claims a heartbeat's grace.
        grace = now - timedelta(seconds=settings.WORKER_HEARTBEAT_SECONDS * 3)
        for model in (SandboxRun, LabJob):
            running = model.objects.filter(status=RunStatus.RUNNING, started_at__lt=grace).exclude(worker="")
            for pk, worker, attempts in running.values_list("pk", "worker", "attempts"):
                if _worker_alive(worker, live):
                    continue
                changed += _requeue_or_fail(model, pk, worker=worker, attempts=attempts)

    republish_before = now - timedelta(seconds=settings.SANDBOX_REPUBLISH_AFTER)
    for model, task, key in ((SandboxRun, tasks.execute_run, "run_id"), (LabJob, tasks.execute_lab, "job_id")):
        stale = model.objects.filter(status=RunStatus.QUEUED).filter(
            Q(published_at__lt=republish_before) | Q(published_at__isnull=True, created_at__lt=republish_before)
        )
        for pk in stale.values_list("pk", flat=True):
            # Mark first: a second sweep running alongside skips it instead of publishing twice.
            if (
                model.objects.filter(pk=pk, status=RunStatus.QUEUED)
                .filter(Q(published_at__lt=republish_before) | Q(published_at__isnull=True))
                .update(published_at=now)
            ):
                publish_now_or_leave_to_sweep(task, what=f"{model.__name__} {pk}", **{key: pk})
                changed += 1
    return changed


def _requeue_or_fail(model: Any, pk: int, *, worker: str, attempts: int) -> int:
    from inference.models import LabJob

    what = "run" if model is SandboxRun else "lab"
    if attempts < MAX_ATTEMPTS:
        with transaction.atomic():
            moved: int = model.objects.filter(pk=pk, status=RunStatus.RUNNING, worker=worker).update(
                status=RunStatus.QUEUED, worker="", published_at=timezone.now()
            )
            if moved and model is SandboxRun:
                RunTokenChunk.objects.filter(run_id=pk).delete()
        if moved:
            task, key = (tasks.execute_run, "run_id") if model is SandboxRun else (tasks.execute_lab, "job_id")
            publish_after_commit_or_leave_to_sweep(task, what=f"{what} {pk}", **{key: pk})
        return moved
    message = f"The worker running this {what} stopped unexpectedly twice; it was not retried again."
    if model is LabJob:
        return LabJob.objects.filter(pk=pk, status=RunStatus.RUNNING, worker=worker).update(
            status=RunStatus.FAILED, error=message, finished_at=timezone.now()
        )
    if SandboxRun.objects.filter(pk=pk, status=RunStatus.RUNNING, worker=worker).exists():
        _finish(pk, status=RunStatus.FAILED, finish_reason="error", error=message)
        return 1
    return 0
