"""Office-hours emails: reminders to RSVP'd members before a session, and the news that a recap is out.

Reminders: a beat task (`cohort.send_session_reminders`, every two minutes)
emails each RSVP'd member once about 24 hours before a session and once in
the last hour before it starts. A member who RSVPs inside the 24-hour window
gets the day reminder straight away; inside the last hour they get only the
hour one. Ended, live and started sessions get none.

Recaps: publishing a recap for the first time queues `cohort.notify_recap_published`
after the commit; a beat sweep sends the ones whose task was lost. Either way
the cohort hears about a recap once.

Every email is claimed before it is sent with a conditional UPDATE of its
timestamp (`SessionRSVP.reminded_24h_at` / `reminded_1h_at`,
`OfficeHoursSession.recap_notified_at`): of two runs, even concurrent ones,
exactly one changes the row and sends. All the emails of one run share one
mail-server connection.

Mail goes to active users whose address allauth has verified (the site
requires verification to sign in, so that is every real member).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, timezone

from cohort.mail import site_url
from cohort.models import Cohort, Membership, OfficeHoursSession, SessionRSVP, SessionStatus, SessionTopic
from cohort.office_hours import tasks
from cohort.zones import zone_or_utc
from config.publish import publish_after_commit_or_leave_to_sweep

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[First Break AI] "
# The sweep gives the task queued on commit this head start, so the two rarely meet (the claim makes it safe anyway).
RECAP_SWEEP_GRACE = dt.timedelta(minutes=2)
# A recap published longer ago than this is no news: never mailed, so recaps published before
# this feature existed (or seeded with an old date) do not arrive in a burst after a deploy.
RECAP_NOTIFY_MAX_AGE = dt.timedelta(days=3)


@dataclass(frozen=True)
class ReminderKind:
    field: str  # the SessionRSVP timestamp that claims this reminder
    lead: dt.timedelta  # how long before the start it is due


DAY = ReminderKind("reminded_24h_at", dt.timedelta(hours=24))
HOUR = ReminderKind("reminded_1h_at", dt.timedelta(hours=1))


# --- Helpers -----------------------------------------------------------------------------


def _verified_address(user_ref: str) -> Exists:
    """The user (path `user_ref` from the queried model) has confirmed the address we would write to."""
    return Exists(
        EmailAddress.objects.filter(
            user=OuterRef(user_ref), email__iexact=OuterRef(f"{user_ref}__email"), verified=True
        )
    )


def _when(session: OfficeHoursSession, zone: zoneinfo.ZoneInfo) -> str:
    """The session as "Fri 13 Mar 2026, 17:00–18:00 GMT" on the clock of `zone`."""
    start, end = session.starts_at.astimezone(zone), session.ends_at.astimezone(zone)
    return f"{dateformat.format(start, 'D j M Y, H:i')}–{dateformat.format(end, 'H:i T')}"


def _countdown(delta: dt.timedelta) -> str:
    minutes = max(1, math.ceil(delta.total_seconds() / 60))
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"about {hours} hours"


def _topic_lines(topics: list[SessionTopic]) -> list[str]:
    lines = []
    for topic in topics:
        line = f"{topic.position}. {topic.title}"
        if topic.step is not None:
            line += f" (Roadmap connection: {topic.step.code})"
        lines.append(line)
    return lines


def _topics_by_session(session_ids: set[int]) -> dict[int, list[SessionTopic]]:
    by_session: dict[int, list[SessionTopic]] = defaultdict(list)
    for topic in (
        SessionTopic.objects.filter(session_id__in=session_ids)
        .select_related("step")
        .order_by("session_id", "position")
    ):
        by_session[topic.session_id].append(topic)
    return by_session


# --- Reminders ---------------------------------------------------------------------------


def _not_sent(kind: ReminderKind) -> Q:
    # A reminder sent for an earlier time of the session (a lead has moved it later since) counts as not sent.
    return Q(**{f"{kind.field}__isnull": True}) | Q(**{f"{kind.field}__lt": F("session__starts_at") - kind.lead})


def reminders_due(*, now: dt.datetime) -> list[SessionRSVP]:
    """RSVPs owed a reminder at `now`, soonest session first: one query.

    The hour reminder is due in the last hour before the start; the day
    reminder from 24 hours before until the hour window opens (inside it, only
    the hour reminder goes out).
    """
    hour_due = Q(session__starts_at__gt=now, session__starts_at__lte=now + HOUR.lead) & _not_sent(HOUR)
    day_due = Q(session__starts_at__gt=now + HOUR.lead, session__starts_at__lte=now + DAY.lead) & _not_sent(DAY)
    return list(
        SessionRSVP.objects.filter(hour_due | day_due)
        .filter(
            session__status=SessionStatus.SCHEDULED,
            membership__cohort=F("session__cohort"),
            membership__user__is_active=True,
        )
        .filter(_verified_address("membership__user"))
        .select_related("session__cohort", "membership__user")
        .order_by("session__starts_at", "pk")
    )


def _kind_for(rsvp: SessionRSVP, now: dt.datetime) -> ReminderKind:
    return HOUR if rsvp.session.starts_at - now <= HOUR.lead else DAY


def _claim_reminder(rsvp: SessionRSVP, kind: ReminderKind, now: dt.datetime) -> bool:
    """The conditional UPDATE: True for exactly one of any number of runs.

    Its condition reads only this row's columns (the start time is passed in),
    so PostgreSQL re-checks it against a concurrent run's committed claim.
    """
    stale_before = rsvp.session.starts_at - kind.lead
    unsent = Q(**{f"{kind.field}__isnull": True}) | Q(**{f"{kind.field}__lt": stale_before})
    return SessionRSVP.objects.filter(unsent, pk=rsvp.pk).update(**{kind.field: now}) == 1


def _reminder_message(
    rsvp: SessionRSVP, kind: ReminderKind, topics: list[SessionTopic], now: dt.datetime
) -> EmailMessage:
    session, user = rsvp.session, rsvp.membership.user
    cohort = session.cohort
    member_zone, cohort_zone = zone_or_utc(user.timezone or cohort.timezone), zone_or_utc(cohort.timezone)
    member_when = _when(session, member_zone)
    cohort_when = _when(session, cohort_zone)
    context = {
        "user": user,
        "session": session,
        "cohort": cohort,
        "hour": kind is HOUR,
        "countdown": _countdown(session.starts_at - now),
        "member_when": member_when,
        "member_zone": member_zone.key,
        # Shown only when it reads differently, like the session pages do.
        "cohort_when": cohort_when if cohort_when != member_when else "",
        "session_url": site_url(reverse("cohort:session", args=[cohort.slug, session.number])),
        "topic_lines": _topic_lines(topics),
    }
    start = session.starts_at.astimezone(member_zone)
    if kind is HOUR:
        subject = f"Office hours {session.number} starts at {dateformat.format(start, 'H:i T')}: {session.title}"
    else:
        subject = f"Reminder: office hours {session.number} on {dateformat.format(start, 'D j M, H:i T')}"
    return EmailMessage(
        subject=SUBJECT_PREFIX + subject,
        body=render_to_string("cohort/email/session_reminder.txt", context),
        to=[user.email],
    )


def reminders_send(*, now: dt.datetime | None = None) -> int:
    """Send the reminders due at `now`; returns how many were sent.

    Each email is claimed and sent inside one small transaction: a send that
    fails rolls its claim back and stops the run (the mail server is likely
    down), and the next run sends it. Emails sent before it stay claimed, so
    nobody gets a reminder twice.
    """
    now = now or timezone.now()
    due = reminders_due(now=now)
    if not due:
        return 0
    topics = _topics_by_session({rsvp.session_id for rsvp in due})
    sent = 0
    with mailers.default as connection:
        for rsvp in due:
            kind = _kind_for(rsvp, now)
            message = _reminder_message(rsvp, kind, topics[rsvp.session_id], now)
            with transaction.atomic():
                if not _claim_reminder(rsvp, kind, now):
                    continue
                connection.send_messages([message])
            sent += 1
    logger.info("sent %s office-hours reminder(s)", sent)
    return sent


# --- Recap published ---------------------------------------------------------------------


def recap_notification_enqueue(*, session_id: int) -> None:
    """Queue the cohort's email about a newly published recap, once the transaction commits."""
    # A broker outage must not turn the lead's "Publish" into an error page: the sweep sends it later.
    publish_after_commit_or_leave_to_sweep(
        tasks.notify_recap_published, what=f"the recap email of session {session_id}", session_id=session_id
    )


def _recipients(cohort: Cohort) -> list[str]:
    emails = (
        Membership.objects.filter(cohort=cohort, user__is_active=True)
        .exclude(user__email="")
        .filter(_verified_address("user"))
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    return list(dict.fromkeys(emails))


def recap_notify(*, session_id: int, now: dt.datetime | None = None) -> int:
    """Tell every member of the cohort that the session's recap is published; returns how many emails went out.

    Claims `recap_notified_at` first, so a second call (a redelivered task, the
    sweep, a re-publish after an unpublish, any later edit) sends nothing. The
    claim commits before the emails go out, so a lead saving the recap is
    never held up behind the sending. If the mail server fails before the first
    email, the claim is given back for the retry or the sweep; after some
    emails went out it is kept (no one gets it twice) and the shortfall is
    logged as an error.
    """
    now = now or timezone.now()
    claimed = OfficeHoursSession.objects.filter(
        pk=session_id,
        recap_published_at__isnull=False,
        recap_published_at__gte=now - RECAP_NOTIFY_MAX_AGE,
        recap_notified_at__isnull=True,
    ).update(recap_notified_at=now)
    if claimed != 1:
        logger.info("recap of session %s: not published, too old, already announced or gone", session_id)
        return 0
    session = (
        OfficeHoursSession.objects.select_related("cohort").defer("recap_markdown", "recap_html").get(pk=session_id)
    )
    cohort = session.cohort
    topics = _topics_by_session({session.pk})[session.pk]
    context = {
        "session": session,
        "cohort": cohort,
        "when": dateformat.format(session.starts_at.astimezone(zone_or_utc(cohort.timezone)), "D j M Y"),
        "recap_url": site_url(reverse("cohort:recap", args=[cohort.slug, session.number])),
        "recaps_url": site_url(reverse("cohort:recaps", args=[cohort.slug])),
        "topic_lines": _topic_lines(topics),
    }
    subject = SUBJECT_PREFIX + f"Recap of office hours {session.number}: {session.title}"
    body = render_to_string("cohort/email/recap_published.txt", context)
    recipients = _recipients(cohort)
    sent = 0
    try:
        with mailers.default as connection:
            for email in recipients:
                connection.send_messages([EmailMessage(subject=subject, body=body, to=[email])])
                sent += 1
    except Exception:
        if sent == 0:
            OfficeHoursSession.objects.filter(pk=session_id, recap_notified_at=now).update(recap_notified_at=None)
            raise
        logger.exception(
            "recap of session %s: the mail server failed after %s of %s emails; the rest are not sent",
            session_id,
            sent,
            len(recipients),
        )
        return sent
    logger.info("recap of session %s announced to %s member(s)", session_id, sent)
    return sent


def recaps_sweep(*, now: dt.datetime | None = None) -> int:
    """Announce recently published recaps whose task never ran; returns how many recaps were announced."""
    now = now or timezone.now()
    pending = list(
        OfficeHoursSession.objects.filter(
            recap_published_at__isnull=False,
            recap_notified_at__isnull=True,
            recap_published_at__gte=now - RECAP_NOTIFY_MAX_AGE,
            recap_published_at__lte=now - RECAP_SWEEP_GRACE,
        )
        .order_by("recap_published_at")
        .values_list("pk", flat=True)
    )
    announced = 0
    for session_id in pending:
        try:
            if recap_notify(session_id=session_id, now=now):
                announced += 1
        except OSError:
            # The claim was given back; the next sweep tries again.
            logger.warning("recap of session %s: mail server unavailable", session_id, exc_info=True)
            break
    return announced
