from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.contrib.django.task import DjangoTask

logger = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 5


@shared_task(name="exercises.process_delivery", bind=True, max_retries=MAX_DELIVERY_ATTEMPTS - 1)
def process_delivery(self: Task[Any, Any], *, delivery_id: int) -> str | None:
    from exercises.deliveries import delivery_process, delivery_record_failure

    try:
        return delivery_process(delivery_id=delivery_id)
    except Exception as exc:
        final = self.request.retries >= MAX_DELIVERY_ATTEMPTS - 1
        logger.exception("delivery %s failed (attempt %s)", delivery_id, self.request.retries + 1)
        delivery_record_failure(delivery_id=delivery_id, error=f"{type(exc).__name__}: {exc}", final=final)
        if final:
            return "failed"
        raise self.retry(countdown=min(2 ** (self.request.retries + 1), 60), exc=exc) from exc


@shared_task(name="exercises.sweep_deliveries")
def sweep_deliveries() -> int:
    from exercises.deliveries import deliveries_sweep

    return deliveries_sweep()


# Retries inside the task cover an outage of about ten minutes (backoff from
# GITHUB_COMMENT_RETRY_SECONDS, doubling, with jitter); the sweep covers the rest.
COMMENT_TASK_RETRIES = 6


@shared_task(base=DjangoTask, name="exercises.post_comment", bind=True, max_retries=COMMENT_TASK_RETRIES)
def post_comment(self: DjangoTask[Any, Any], *, comment_id: int) -> str:
    from exercises.notify import comment_post

    outcome = comment_post(comment_id=comment_id)
    if outcome.retry_in is not None and self.request.retries < COMMENT_TASK_RETRIES:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="exercises.sweep_comments")
def sweep_comments() -> int:
    from exercises.notify import comments_sweep

    return comments_sweep()


@shared_task(name="exercises.comment_on_pull_request")
def comment_on_pull_request(*, submission_id: int, kind: str) -> None:
    """Messages published before the comment outbox existed: owe the comment the new way."""
    from exercises.models import Submission
    from exercises.notify import comment_due

    submission = Submission.objects.filter(pk=submission_id).first()
    if submission is not None and not submission.refused_reason and submission.author_login:
        comment_due(submission=submission, kind=kind)


@shared_task(name="exercises.check_sandbox_exercises")
def check_sandbox_exercises(*, membership_id: int) -> int:
    """Queued by `exercises.receivers` when the inference app signals a finished run or lab."""
    from cohort.models import Membership
    from exercises.sandbox_rules import sandbox_exercises_check

    membership = Membership.objects.filter(pk=membership_id).first()
    if membership is None:
        return 0
    return len(sandbox_exercises_check(membership=membership))
