"""Check-in tasks: the email to leads about a blocked check-in, and its sweep."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="cohort.notify_blocked_check_in", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_blocked_check_in(*, check_in_id: int) -> bool:
    """Email the cohort's leads about a blocked check-in; a second run (or the sweep) sends nothing."""
    from cohort.check_ins import services as check_ins

    return check_ins.check_in_notify_leads(check_in_id=check_in_id)


@shared_task(name="cohort.sweep_blocked_check_ins")
def sweep_blocked_check_ins() -> int:
    """Beat: email blockers whose notify task was lost (published while the broker was down, or dropped)."""
    from cohort.check_ins import services as check_ins

    return check_ins.check_ins_sweep_unnotified()
