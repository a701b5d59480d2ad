"""Demo activity around office hours: who came to Session 1, check-ins, a waiting pull request, Session 2.

Called by `manage.py seed_demo` after `seed_office_hours`. With it the lead's
home, "who is stuck", the attendance history and the calendars have something
to show: Bruno is blocked on a merge conflict (the Step 1 topic of Session 1)
and his first pull request waits for a review, Chen missed the session he
RSVP'd to and has been quiet for over a week, Amara is on track with Step 2.

Session 1 (13 March 2026) keeps its date: it is the cohort's history. The
recent activity is placed relative to the day the seed runs (yesterday, two
days ago, nine days ago), so "last activity" and "who is stuck" mean something
on a fresh `make run` whatever the date. Rows are keyed on natural keys (the
check-in's text, the pull request's number), so a second run on the same day
changes nothing, and a run on a later day moves the recent activity with it.
Session 2 is placed on the next Friday and stays there until it has passed.

Rows are written directly (as the other demo rows are): no emails or tasks
for a demo, and `leads_notified_at` is set so the blocker sweep leaves them
alone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import transaction
from django.utils import timezone

from cohort.demo.roadmap import LEAD_EMAIL
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
    SessionStatus,
    SessionTopic,
)
from cohort.services import membership_touch
from exercises.models import Exercise, Submission, SubmissionState, TimelineEvent

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

# (learner, step slug, (days before the seeding day, hour UTC), status, done, next, blocker)
CHECK_INS: tuple[tuple[str, str, tuple[int, float], str, str, str, str], ...] = (
    (
        CHEN,
        "github-collaboration",
        (9, 20.0),
        CheckInStatus.ON_TRACK,
        "Read the Step 1 notes and cloned the practice repository.",
        "Open my first pull request.",
        "",
    ),
    (
        AMARA,
        "run-qwen3-locally",
        (1, 18.0),
        CheckInStatus.ON_TRACK,
        "Built llama.cpp from source and ran Qwen3-0.6B (Q8_0) from the command line.",
        "Compare temperature 0 with 0.7 on the same prompt and look at the token probabilities.",
        "",
    ),
    (
        BRUNO,
        "github-collaboration",
        (2, 9.5),
        CheckInStatus.BLOCKED,
        "Opened my first pull request on the practice repository.",
        "Get the merge-conflict exercise merged.",
        "`git merge main` leaves conflict markers in README.md and I am not sure which side to keep, "
        "or whether I should rebase instead.",
    ),
)

# Bruno's first pull request, opened five days before the seeding day and not reviewed yet.
WAITING_PR = (BRUNO, "first-pr", 7, "Add my name to CONTRIBUTORS.md", (5, 10.0))


def _days_ago(today: dt.datetime, when: tuple[int, float]) -> dt.datetime:
    days, hour = when
    return today - dt.timedelta(days=days) + dt.timedelta(hours=hour)


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


def _upcoming_session(cohort: Cohort, members: dict[str, Membership], now: dt.datetime) -> OfficeHoursSession:
    session = OfficeHoursSession.objects.filter(cohort=cohort, number=2).first()
    if session is None:
        session = OfficeHoursSession.objects.create(
            cohort=cohort,
            number=2,
            title=SESSION_2_TITLE,
            starts_at=_next_friday_5pm(cohort, now),
            duration_minutes=60,
        )
        session.leads.set([members[LEAD_EMAIL].user])
    elif session.status == SessionStatus.SCHEDULED and session.ends_at < now:
        # The demo was seeded before and its Session 2 has passed without being held: move it
        # to the coming Friday, so the demo always has an upcoming session.
        session.starts_at = _next_friday_5pm(cohort, now)
        session.sequence += 1
        session.save(update_fields=["starts_at", "sequence"])
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
    for email in (AMARA, BRUNO):
        SessionRSVP.objects.get_or_create(
            session=session, membership=members[email], defaults={"created_at": session.created_at}
        )
    return session


def _waiting_pull_request(cohort: Cohort, members: dict[str, Membership], today: dt.datetime) -> None:
    email, exercise_slug, number, title, when = WAITING_PR
    exercise = Exercise.objects.filter(cohort=cohort, slug=exercise_slug).first()
    if exercise is None:
        return
    opened = _days_ago(today, when)
    membership = members[email]
    url = f"https://github.com/{cohort.practice_repository}/pull/{number}"
    submission, _ = Submission.objects.get_or_create(
        repository=cohort.practice_repository,
        pr_number=number,
        defaults={
            "membership": membership,
            "exercise": exercise,
            "pr_url": url,
            "title": title,
            "author_login": membership.user.github_username,
            "head_ref": f"{exercise_slug}-bruno",
            "state": SubmissionState.OPEN,
            "opened_at": opened,
            "pr_updated_at": opened,
        },
    )
    if submission.opened_at != opened:
        submission.opened_at = opened
        submission.pr_updated_at = opened
        submission.save(update_fields=["opened_at", "pr_updated_at"])
    # linked_at is set on insert (auto_now_add); an UPDATE places it beside the opening instead.
    Submission.objects.filter(pk=submission.pk).exclude(linked_at=opened).update(linked_at=opened)
    event, created = TimelineEvent.objects.get_or_create(
        submission=submission,
        kind="opened",
        defaults={
            "actor_login": membership.user.github_username,
            "summary": f"Pull request #{number} opened: {title}",
            "url": url,
            "occurred_at": opened,
        },
    )
    if not created and event.occurred_at != opened:
        event.occurred_at = opened
        event.save(update_fields=["occurred_at"])
    membership_touch(membership=membership, at=opened)


@transaction.atomic
def seed_office_hours_activity(
    cohort: Cohort, first_session: OfficeHoursSession, now: dt.datetime | None = None
) -> OfficeHoursSession:
    """Attendance and RSVPs for Session 1, the demo check-ins and pull request, and Session 2; returns Session 2."""
    now = now or timezone.now()
    # Midnight UTC of the seeding day: reruns the same day compute the same times.
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
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
        # The clock the services move; it never goes backwards, so reruns change nothing.
        membership_touch(membership=members[email], at=at)
    steps = {step.slug: step for step in cohort.steps.all()}
    for email, step_slug, when, status, done, next_, blocker in CHECK_INS:
        at = min(_days_ago(today, when), now)
        check_in, created = CheckIn.objects.get_or_create(
            membership=members[email],
            step=steps[step_slug],
            status=status,
            done_text=done,
            defaults={"created_at": at, "next_text": next_, "blocker_text": blocker, "leads_notified_at": at},
        )
        if not created and check_in.created_at != at:
            check_in.created_at = check_in.leads_notified_at = at
            check_in.save(update_fields=["created_at", "leads_notified_at"])
        membership_touch(membership=members[email], at=at)
    _waiting_pull_request(cohort, members, today)
    return _upcoming_session(cohort, members, now)
