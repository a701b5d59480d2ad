"""Demo activity around office hours: who came to Session 1, check-ins, and an upcoming Session 2.

Called by `manage.py seed_demo` after `seed_office_hours`. With it the lead's
"who is stuck" page, the attendance history and the calendars have something
to show: Bruno is blocked on a merge conflict (the Step 1 topic of Session 1),
Chen missed the session he RSVP'd to, Amara is on track with Step 2.

Rows are written directly (as the other demo rows are): no emails or tasks
for a demo, and `leads_notified_at` is set so the blocker sweep leaves them
alone. Keyed on natural keys, so a second run changes nothing; Session 2 is
placed on the Friday after the first seeding and then left where it is.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import transaction
from django.utils import timezone

from cohort.demo import LEAD_EMAIL
from cohort.models import (
    AttendanceSource,
    CheckIn,
    CheckInStatus,
    Cohort,
    Membership,
    OfficeHoursSession,
    QuestionVote,
    SessionAttendance,
    SessionQuestion,
    SessionRSVP,
    SessionTopic,
)
from cohort.services import membership_touch

AMARA, BRUNO, CHEN = "learner1@example.com", "learner2@example.com", "learner3@example.com"

# Session 1 (13 March 2026, 17:00 UTC): everyone RSVP'd, Chen did not make it.
RSVPS = {
    AMARA: dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC),
    BRUNO: dt.datetime(2026, 3, 11, 8, 20, tzinfo=dt.UTC),
    CHEN: dt.datetime(2026, 3, 12, 21, 0, tzinfo=dt.UTC),
}
ATTENDANCE = {
    AMARA: (dt.datetime(2026, 3, 13, 17, 1, tzinfo=dt.UTC), AttendanceSource.CODE),
    BRUNO: (dt.datetime(2026, 3, 13, 17, 9, tzinfo=dt.UTC), AttendanceSource.LEAD),
}

# (learner, step slug, at, status, done, next, blocker)
CHECK_INS: tuple[tuple[str, str, dt.datetime, str, str, str, str], ...] = (
    (
        AMARA,
        "run-qwen3-locally",
        dt.datetime(2026, 3, 16, 18, 0, tzinfo=dt.UTC),
        CheckInStatus.ON_TRACK,
        "Built llama.cpp from source and ran Qwen3-0.6B (Q8_0) from the command line.",
        "Compare temperature 0 with 0.7 on the same prompt and look at the token probabilities.",
        "",
    ),
    (
        BRUNO,
        "github-collaboration",
        dt.datetime(2026, 3, 17, 9, 30, tzinfo=dt.UTC),
        CheckInStatus.BLOCKED,
        "Opened my first pull request on the practice repository.",
        "Get the merge-conflict exercise merged.",
        "`git merge main` leaves conflict markers in README.md and I am not sure which side to keep, "
        "or whether I should rebase instead.",
    ),
)

SESSION_2_TITLE = "Step 2 in practice: building llama.cpp and reading token probabilities"
SESSION_2_TOPICS = (
    ("Building llama.cpp on your machine: compilers, CPU flags, common errors", "run-qwen3-locally"),
    ("Reading token probabilities: temperature, top-k and top-p on one prompt", "run-qwen3-locally"),
    ("Merge conflicts, once more: merging main into your branch", "github-collaboration"),
)
SESSION_2_QUESTION = (
    CHEN,
    "My build of llama.cpp crashes with *Illegal instruction* when I load a Q4 model. "
    "Which CMake flags should I use for an older CPU?",
)


def _next_friday_5pm(cohort: Cohort, now: dt.datetime) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(cohort.timezone)
    local = now.astimezone(zone)
    days = (4 - local.weekday()) % 7 or 7
    day = (local + dt.timedelta(days=days)).date()
    return dt.datetime(day.year, day.month, day.day, 17, 0, tzinfo=zone).astimezone(dt.UTC)


def _upcoming_session(cohort: Cohort, members: dict[str, Membership]) -> OfficeHoursSession:
    session = OfficeHoursSession.objects.filter(cohort=cohort, number=2).first()
    if session is None:
        session = OfficeHoursSession.objects.create(
            cohort=cohort,
            number=2,
            title=SESSION_2_TITLE,
            starts_at=_next_friday_5pm(cohort, timezone.now()),
            duration_minutes=60,
        )
        session.leads.set([members[LEAD_EMAIL].user])
    steps = {step.slug: step for step in cohort.steps.all()}
    for position, (title, step_slug) in enumerate(SESSION_2_TOPICS, start=1):
        SessionTopic.objects.get_or_create(
            session=session, position=position, defaults={"title": title, "step": steps[step_slug]}
        )
    author, body = SESSION_2_QUESTION
    question, _ = SessionQuestion.objects.get_or_create(
        session=session, author=members[author], body=body, defaults={"created_at": session.created_at}
    )
    QuestionVote.objects.get_or_create(
        question=question, voter=members[BRUNO], defaults={"created_at": session.created_at}
    )
    SessionRSVP.objects.get_or_create(
        session=session, membership=members[AMARA], defaults={"created_at": session.created_at}
    )
    return session


@transaction.atomic
def seed_office_hours_activity(cohort: Cohort, first_session: OfficeHoursSession) -> OfficeHoursSession:
    """Attendance and RSVPs for Session 1, the demo check-ins, and Session 2; returns Session 2."""
    members = {m.user.email: m for m in Membership.objects.filter(cohort=cohort).select_related("user")}
    lead = members[LEAD_EMAIL].user
    for email, at in RSVPS.items():
        SessionRSVP.objects.get_or_create(session=first_session, membership=members[email], defaults={"created_at": at})
    for email, (at, source) in ATTENDANCE.items():
        SessionAttendance.objects.get_or_create(
            session=first_session,
            membership=members[email],
            defaults={
                "checked_in_at": at,
                "source": source,
                "marked_by": lead if source == AttendanceSource.LEAD else None,
            },
        )
    steps = {step.slug: step for step in cohort.steps.all()}
    for email, step_slug, at, status, done, next_, blocker in CHECK_INS:
        CheckIn.objects.get_or_create(
            membership=members[email],
            created_at=at,
            defaults={
                "step": steps[step_slug],
                "status": status,
                "done_text": done,
                "next_text": next_,
                "blocker_text": blocker,
                "leads_notified_at": at,
            },
        )
        # The clock the check-in service moves; it never goes backwards, so reruns change nothing.
        membership_touch(membership=members[email], at=at)
    for email, (at, _source) in ATTENDANCE.items():
        membership_touch(membership=members[email], at=at)
    return _upcoming_session(cohort, members)
