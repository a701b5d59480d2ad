from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

logger = logging.getLogger(__name__)


@shared_task(
    name="inference.execute_run",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.SANDBOX_SOFT_TIME_LIMIT,
    time_limit=settings.SANDBOX_HARD_TIME_LIMIT,
)
def execute_run(*, run_id: int) -> str | None:
    """Runs on the `inference` queue (routed by name). Safe to deliver twice: the run is claimed first."""
    from inference.services import run_execute

    return run_execute(run_id=run_id)


@shared_task(name="inference.sweep_stuck_runs")
def sweep_stuck_runs() -> int:
    from inference.services import runs_sweep_stuck

    return runs_sweep_stuck()


@shared_task(
    name="inference.execute_lab",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.SANDBOX_SOFT_TIME_LIMIT,
    time_limit=settings.SANDBOX_HARD_TIME_LIMIT,
)
def execute_lab(*, job_id: int) -> str | None:
    from inference.labs import lab_execute

    return lab_execute(job_id=job_id)


@shared_task(name="inference.sweep_lab_variants")
def sweep_lab_variants() -> int:
    """Quantized variants past their retention, and files of deleted labs (safe to run twice)."""
    from inference.quantization import variants_sweep

    return variants_sweep()
