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


# --- Check-ins (cohort/check_ins.py) ---------------------------------------------------


@shared_task(name="cohort.notify_blocked_check_in", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_blocked_check_in(*, check_in_id: int) -> bool:
    """Email the cohort's leads about a blocked check-in; a second run (or the sweep) sends nothing."""
    from cohort import check_ins

    return check_ins.check_in_notify_leads(check_in_id=check_in_id)


@shared_task(name="cohort.sweep_blocked_check_ins")
def sweep_blocked_check_ins() -> int:
    """Beat: email blockers whose notify task was lost (published while the broker was down, or dropped)."""
    from cohort import check_ins

    return check_ins.check_ins_sweep_unnotified()


# --- Office-hours reminders and recap emails (cohort/reminders.py) ----------------------


@shared_task(name="cohort.send_session_reminders")
def send_session_reminders() -> int:
    """Beat: email RSVP'd members 24 h and 1 h before a session; each reminder is claimed, so overlapping runs send once."""
    from cohort import reminders

    return reminders.reminders_send()


@shared_task(name="cohort.notify_recap_published", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_recap_published(*, session_id: int) -> int:
    """Tell the cohort a recap is out, once; a second run, or one after the sweep, sends nothing."""
    from cohort import reminders

    return reminders.recap_notify(session_id=session_id)


@shared_task(name="cohort.sweep_recap_notifications")
def sweep_recap_notifications() -> int:
    """Beat: announce recently published recaps whose `notify_recap_published` task was lost."""
    from cohort import reminders

    return reminders.recaps_sweep()
