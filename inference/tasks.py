from __future__ import annotations

import logging
import os
from typing import Any

from celery import Task, shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings

logger = logging.getLogger(__name__)


def _worker_id(task: Task[Any, Any]) -> str:
    """hostname:pid, matched against the worker heartbeats by the sweep."""
    return f"{task.request.hostname or ''}:{os.getpid()}"


@shared_task(
    base=DjangoTask,
    bind=True,
    name="inference.execute_run",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.SANDBOX_SOFT_TIME_LIMIT,
    time_limit=settings.SANDBOX_HARD_TIME_LIMIT,
)
def execute_run(self: DjangoTask[Any, Any], *, run_id: int) -> str | None:
    """Runs on the `inference` queue (routed by name) in a thread of the worker's pool, which waits
    while the run generates in the process's batch engine. Safe to deliver twice: the run is claimed.

    The thread pool does not enforce Celery's time limits; the run's thread
    does (same limits, same messages), and the beat sweep is the backstop."""
    from inference.services import run_execute

    hard, soft = self.request.timelimit or (None, None)
    return run_execute(run_id=run_id, worker=_worker_id(self), time_limits=(hard, soft))


@shared_task(name="inference.sweep_stuck_runs")
def sweep_stuck_runs() -> int:
    from inference.run_sweeps import runs_sweep_stuck

    return runs_sweep_stuck()


@shared_task(
    base=DjangoTask,
    bind=True,
    name="inference.execute_lab",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.SANDBOX_SOFT_TIME_LIMIT,
    time_limit=settings.SANDBOX_HARD_TIME_LIMIT,
)
def execute_lab(self: DjangoTask[Any, Any], *, job_id: int) -> str | None:
    from inference.labs import lab_execute

    return lab_execute(job_id=job_id, worker=_worker_id(self))


@shared_task(name="inference.sweep_lab_variants")
def sweep_lab_variants() -> int:
    """Quantized variants past their retention, and files of deleted labs (safe to run twice)."""
    from inference.quantization import variants_sweep

    return variants_sweep()


def _register_heartbeat_stats() -> None:
    # What operators see per worker on /healthz: sequences, waiting runs, tokens/s.
    from config import health
    from inference.batching import worker_stats

    health.heartbeat_extras["inference"] = worker_stats


_register_heartbeat_stats()
