from __future__ import annotations

import logging

from celery import shared_task
from celery.contrib.django.task import DjangoTask

logger = logging.getLogger(__name__)


@shared_task(
    base=DjangoTask, name="cohort.send_invitations", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def send_invitations(*, invitation_ids: list[int]) -> int:
    """Email each pending invitation once; an accepted or already-sent one is skipped."""
    from cohort import mail

    return mail.invitations_send(invitation_ids=invitation_ids)


@shared_task(name="cohort.ping")
def ping(*, token: str) -> str:
    """Round trip used by the worker test and by operators: writes `token` to the cache."""
    from django.core.cache import cache

    cache.set(f"ping:{token}", "pong", 300)
    return token
