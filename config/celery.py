"""Celery application: two queues, `default` and `inference`.

Reliability settings follow shared/REFERENCE.md: tasks are acknowledged after
they run and requeued when their worker child dies, a worker takes one task at
a time, and the broker's visibility timeout outlives the hard time limit.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("firstbreak")
logger = logging.getLogger(__name__)


@app.on_configure.connect
def _configure(sender: Celery, **kwargs: object) -> None:
    """Read Django's settings when Celery first needs its configuration, not at import.

    Importing this module must not load settings: a settings module that does
    `from config.settings import *` would otherwise re-enter itself half-loaded.
    """
    from django.conf import settings

    transport_options: dict[str, object] = {
        "visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT,
        # How long a publisher waits for a broker that is down before giving
        # up (kombu's default backs off for about 6 s). The webhook intake
        # must still answer GitHub fast; the sweep publishes what was missed.
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
        "socket_connect_timeout": 2,
    }
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        # The embedded broker: messages are files in one folder that the web
        # side writes and the worker reads, so a newcomer needs no server.
        folder = settings.CELERY_FILESYSTEM_DIR
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        transport_options.update(
            data_folder_in=str(folder / "queue"),
            data_folder_out=str(folder / "queue"),
            processed_folder=str(folder / "processed"),
            control_folder=str(folder / "control"),
            store_processed=False,
        )
    sender.conf.update(
        broker_url=settings.CELERY_BROKER_URL,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_default_queue="default",
        task_queues=(Queue("default"), Queue("inference")),
        task_routes={"inference.*": {"queue": "inference"}},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_time_limit=settings.CELERY_TASK_HARD_TIME_LIMIT,
        task_soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        worker_hijack_root_logger=False,
        beat_schedule={
            # Deliveries stored while the broker or the workers were down.
            "sweep-deliveries": {"task": "exercises.sweep_deliveries", "schedule": 60.0},
            # Pull-request comments left over from a GitHub outage (each is posted once: claimed first).
            "sweep-comments": {"task": "exercises.sweep_comments", "schedule": 60.0},
            # Runs and labs past their hard time limit, whose worker died, or still queued
            # long after they were published (broker down): every 10 s, so work ends with
            # its time-limit message within seconds of the limit.
            "sweep-stuck-runs": {"task": "inference.sweep_stuck_runs", "schedule": 10.0},
            # Quantization-lab variants past SANDBOX_VARIANT_RETENTION_DAYS, and files of deleted labs.
            "sweep-lab-variants": {"task": "inference.sweep_lab_variants", "schedule": 3600.0},
            # Blocked check-ins whose email to the leads was lost (the send itself is claimed: never twice).
            "sweep-blocked-check-ins": {"task": "cohort.sweep_blocked_check_ins", "schedule": 120.0},
            # Office-hours reminders (24 h and 1 h before); every 2 min so the hour one comes 58-60 min ahead.
            "send-session-reminders": {"task": "cohort.send_session_reminders", "schedule": 120.0},
            # Recap announcements whose task was lost.
            "sweep-recap-notifications": {"task": "cohort.sweep_recap_notifications", "schedule": 300.0},
        },
    )


app.autodiscover_tasks()


def publish_or_leave_to_sweep(task: Task[..., Any], *, what: str, **kwargs: object) -> bool:
    """Publish `task` now without retrying; a broker that is down only logs a warning.

    For work whose row is already stored and that a beat sweep re-publishes:
    the caller (a webhook answer, a learner's saved check-in, a lead's
    "Publish") must not turn into an error page or a 5 s wait because of the
    broker. Returns whether the message went out.
    """
    try:
        task.apply_async(kwargs=kwargs, retry=False)
    except Exception:
        logger.warning("could not publish %s; the sweep will pick it up", what, exc_info=True)
        return False
    return True
