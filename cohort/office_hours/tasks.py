"""Office-hours tasks: reminders before a session and the recap announcement, with its sweep."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="cohort.send_session_reminders")
def send_session_reminders() -> int:
    """Beat: email RSVP'd members 24 h and 1 h before a session; each reminder is claimed, so overlapping runs send once."""
    from cohort.office_hours import reminders

    return reminders.reminders_send()


@shared_task(name="cohort.notify_recap_published", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_recap_published(*, session_id: int) -> int:
    """Tell the cohort a recap is out, once; a second run, or one after the sweep, sends nothing."""
    from cohort.office_hours import reminders

    return reminders.recap_notify(session_id=session_id)


@shared_task(name="cohort.sweep_recap_notifications")
def sweep_recap_notifications() -> int:
    """Beat: announce recently published recaps whose `notify_recap_published` task was lost."""
    from cohort.office_hours import reminders

    return reminders.recaps_sweep()
