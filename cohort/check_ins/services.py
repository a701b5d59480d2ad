"""Every write and rule about check-ins: a learner's short status for one roadmap step.

A check-in is "on track" or "blocked". A blocked one is an *open blocker*
until it is resolved, which happens in one of two ways:

- the learner posts a later on-track check-in for the same step: that resolves
  all their open blockers of that step (resolved_by is the learner), since
  "I'm on track with Step 2 now" answers "I'm stuck on Step 2";
- a lead marks it resolved (resolved_by is the lead).

Leads hear about a blocker at once: it is on the lead pages as soon as it is
committed, and `cohort.notify_blocked_check_in` emails the cohort's leads after
the commit. The email claims `leads_notified_at` with a conditional UPDATE, so
a task delivered twice sends one email, and a periodic sweep sends the email of
a blocker whose task was lost (broker down, worker killed before it ran).

Learners only ever read their own check-ins; callers check roles (`cohort.access`),
these functions check that the objects belong together.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cohort.check_ins import tasks
from cohort.mail import site_url
from cohort.models import (
    CHECK_IN_TEXT_MAX_CHARS,
    CheckIn,
    CheckInStatus,
    Membership,
    RoadmapStep,
    Role,
    User,
)
from cohort.services import progress_record_activity
from config.publish import publish_after_commit_or_leave_to_sweep

logger = logging.getLogger(__name__)

# The task published on commit normally sends within seconds; the sweep leaves
# it this long before stepping in, so the two rarely race (the claim makes a
# race harmless anyway).
SWEEP_GRACE = dt.timedelta(minutes=2)
# A blocker older than this that was never emailed is left alone: after a long
# outage, leads see it on the who-is-stuck page rather than in a burst of mail.
SWEEP_MAX_AGE = dt.timedelta(days=3)


def _clean_texts(*, status: str, done_text: str, next_text: str, blocker_text: str) -> dict[str, str]:
    texts = {"done_text": done_text.strip(), "next_text": next_text.strip(), "blocker_text": blocker_text.strip()}
    errors: dict[str, list[str]] = {}
    for name, value in texts.items():
        if len(value) > CHECK_IN_TEXT_MAX_CHARS:
            errors.setdefault(name, []).append(
                f"Keep it under {CHECK_IN_TEXT_MAX_CHARS} characters (it has {len(value)})."
            )
    if status not in CheckInStatus.values:
        errors.setdefault("status", []).append("Choose “On track” or “Blocked”.")
    elif status == CheckInStatus.BLOCKED and not texts["blocker_text"]:
        errors.setdefault("blocker_text", []).append("Say what is blocking you, so a lead can help.")
    elif status == CheckInStatus.ON_TRACK and texts["blocker_text"]:
        # Silently dropping the text would lose it; the learner most likely meant "Blocked".
        errors.setdefault("blocker_text", []).append("Choose “Blocked” if something blocks you, or clear this field.")
    if not errors and not any(texts.values()):
        errors[NON_FIELD_ERRORS] = ["Write at least one line: what you did, what is next, or what blocks you."]
    if errors:
        raise ValidationError(errors)
    return texts


@transaction.atomic
def check_in_post(
    *,
    membership: Membership,
    step: RoadmapStep,
    status: str,
    done_text: str = "",
    next_text: str = "",
    blocker_text: str = "",
    at: dt.datetime | None = None,
) -> CheckIn:
    """Record a learner's check-in for `step`.

    Side effects: the step counts as started and the membership's last
    activity moves forward (`progress_record_activity`); an on-track check-in
    resolves the learner's open blockers of the same step; a blocked one
    queues the email to the cohort's leads after the commit.
    """
    if membership.role != Role.LEARNER:
        raise PermissionDenied("Only learners post check-ins.")
    if step.cohort_id != membership.cohort_id:
        raise ValidationError({"step": ["That step belongs to another cohort."]})
    texts = _clean_texts(status=status, done_text=done_text, next_text=next_text, blocker_text=blocker_text)
    at = at or timezone.now()
    check_in = CheckIn.objects.create(membership=membership, step=step, status=status, created_at=at, **texts)
    if status == CheckInStatus.ON_TRACK:
        resolved = CheckIn.objects.filter(
            membership=membership,
            step=step,
            status=CheckInStatus.BLOCKED,
            resolved_at__isnull=True,
            created_at__lte=at,
        ).update(resolved_at=at, resolved_by=membership.user)
        if resolved:
            logger.info("membership %s on track with step %s: %s blocker(s) resolved", membership.pk, step.pk, resolved)
    else:
        check_in_id = check_in.pk
        # After the commit, so a rolled-back check-in publishes nothing; a broker
        # that is down must not turn the learner's saved check-in into an error
        # page: the sweep sends that email later.
        publish_after_commit_or_leave_to_sweep(
            tasks.notify_blocked_check_in, what=f"the email of check-in {check_in_id}", check_in_id=check_in_id
        )
    progress_record_activity(membership=membership, step=step, at=at)
    return check_in


@transaction.atomic
def check_in_resolve(*, check_in: CheckIn, by: User, at: dt.datetime | None = None) -> bool:
    """A lead marks an open blocker resolved; False if it was resolved already (two leads, one click each)."""
    if check_in.status != CheckInStatus.BLOCKED:
        raise ValidationError("Only a blocked check-in can be resolved.")
    at = at or timezone.now()
    updated = CheckIn.objects.filter(pk=check_in.pk, resolved_at__isnull=True).update(resolved_at=at, resolved_by=by)
    return updated == 1


# --- Email to the leads ------------------------------------------------------------------


def _lead_emails(check_in: CheckIn) -> list[str]:
    return list(
        Membership.objects.filter(cohort_id=check_in.membership.cohort_id, role=Role.LEAD)
        .exclude(user__email="")
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )


def _one_line(text: str) -> str:
    # Mail headers may not hold newlines (Django raises BadHeaderError); names come from users.
    return " ".join(text.split())


def check_in_notify_leads(*, check_in_id: int) -> bool:
    """Email the cohort's leads about an open blocker, at most once. True if this call sent it.

    The conditional UPDATE is the claim: of two runs (a redelivered task, the
    task and the sweep) exactly one sees a changed row. The claim and the send
    share a transaction, so a send that fails rolls the claim back and the retry
    (or the sweep) sends it later. A blocker resolved before the email went out
    is not sent at all.
    """
    with transaction.atomic():
        claimed = CheckIn.objects.filter(
            pk=check_in_id,
            status=CheckInStatus.BLOCKED,
            resolved_at__isnull=True,
            leads_notified_at__isnull=True,
        ).update(leads_notified_at=timezone.now())
        if claimed != 1:
            return False
        check_in = CheckIn.objects.select_related("membership__user", "membership__cohort", "step").get(pk=check_in_id)
        recipients = _lead_emails(check_in)
        if not recipients:
            logger.warning("blocked check-in %s: cohort has no lead to email", check_in_id)
            return False
        cohort = check_in.membership.cohort
        context = {
            "check_in": check_in,
            "learner": check_in.membership.user,
            "cohort": cohort,
            "step": check_in.step,
            "stuck_url": site_url(reverse("cohort:lead_stuck", args=[cohort.slug]) + "?blocked=1"),
        }
        learner = check_in.membership.user.display_name
        send_mail(
            subject=_one_line(f"[First Break AI] {learner} is blocked on {check_in.step.code} ({cohort.name})"),
            message=render_to_string("cohort/email/blocked_check_in.txt", context),
            from_email=None,
            recipient_list=recipients,
        )
    logger.info("blocked check-in %s emailed to %s lead(s)", check_in_id, len(recipients))
    return True


def check_ins_sweep_unnotified(*, now: dt.datetime | None = None) -> int:
    """Send the lead email of open blockers whose task never ran; returns how many were sent.

    Safe to run from several beat ticks or workers at once: each send goes
    through the same claim as the task.
    """
    now = now or timezone.now()
    pending = list(
        CheckIn.objects.filter(
            status=CheckInStatus.BLOCKED,
            resolved_at__isnull=True,
            leads_notified_at__isnull=True,
            created_at__lte=now - SWEEP_GRACE,
            created_at__gte=now - SWEEP_MAX_AGE,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:200]
    )
    sent = 0
    for check_in_id in pending:
        try:
            sent += check_in_notify_leads(check_in_id=check_in_id)
        except OSError:
            # The mail server is down: the claim rolled back, the next sweep tries again.
            logger.exception("could not email the leads about blocked check-in %s", check_in_id)
            break
    if pending:
        logger.info("check-in sweep: %s of %s unsent blocker emails sent", sent, len(pending))
    return sent


# --- Reads: a learner's own check-ins -----------------------------------------------------


def own_check_ins(*, membership: Membership, step: RoadmapStep | None = None, limit: int = 50) -> list[CheckIn]:
    """The member's own check-ins, newest first (one query); nobody else's are ever in the list."""
    rows = CheckIn.objects.filter(membership=membership).select_related("step", "resolved_by")
    if step is not None:
        rows = rows.filter(step=step)
    return list(rows.order_by("-created_at", "-pk")[:limit])
