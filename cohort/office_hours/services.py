"""Every write and rule about office hours: sessions, topics, questions, votes and recaps.

Leads schedule sessions and topics and publish recaps; members post and upvote
questions until a lead marks them answered (after that a question is a record
and nobody edits, deletes or votes on it). Callers check who may call what
(`cohort.access`); these functions check that the objects belong together.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from cohort.errors import Refused
from cohort.markdown import normalize_newlines
from cohort.models import (
    QUESTION_MAX_CHARS,
    QUESTIONS_PER_LEARNER_PER_SESSION,
    RECAP_MAX_CHARS,
    TOPIC_NOTES_MAX_CHARS,
    Cohort,
    Membership,
    OfficeHoursSession,
    QuestionVote,
    RoadmapStep,
    Role,
    SessionQuestion,
    SessionStatus,
    SessionTopic,
    User,
)
from cohort.office_hours.live_services import check_member, help_queue_close, session_touch
from cohort.office_hours.reminders import recap_notification_enqueue
from cohort.services import membership_touch

logger = logging.getLogger(__name__)

SERIES_MAX_SESSIONS = 26


class OfficeHoursError(Refused):
    """A session, topic, question or recap change the rules refuse."""


# --- Sessions ---------------------------------------------------------------------------


def _check_leads(cohort: Cohort, leads: Iterable[User]) -> list[User]:
    leads = list(leads)
    staff_ids = set(
        Membership.objects.filter(cohort=cohort, user__in=leads)
        .exclude(role=Role.LEARNER)
        .values_list("user_id", flat=True)
    )
    if any(user.pk not in staff_ids for user in leads):
        raise OfficeHoursError("Session leads must be leads or mentors of the cohort.")
    return leads


def _next_number(cohort: Cohort) -> int:
    # Locking the cohort row serializes numbering between two leads creating sessions at once.
    Cohort.objects.select_for_update().filter(pk=cohort.pk).first()
    highest = OfficeHoursSession.objects.filter(cohort=cohort).aggregate(n=Max("number"))["n"]
    return (highest or 0) + 1


@transaction.atomic
def session_create(
    *,
    cohort: Cohort,
    title: str,
    starts_at: dt.datetime,
    duration_minutes: int,
    leads: Iterable[User] = (),
    meeting_url: str = "",
) -> OfficeHoursSession:
    """Schedule the cohort's next session; it takes the next free number."""
    leads = _check_leads(cohort, leads)
    session = OfficeHoursSession.objects.create(
        cohort=cohort,
        number=_next_number(cohort),
        title=title.strip(),
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        meeting_url=meeting_url,
    )
    session.leads.set(leads)
    logger.info("office hours session %s scheduled for cohort %s", session.number, cohort.slug)
    return session


@transaction.atomic
def session_create_series(
    *,
    cohort: Cohort,
    title: str,
    first_starts_at: dt.datetime,
    count: int,
    duration_minutes: int,
    leads: Iterable[User] = (),
    meeting_url: str = "",
) -> list[OfficeHoursSession]:
    """Schedule `count` weekly sessions, numbered on from the cohort's last session.

    Weeks are counted on the cohort's wall clock, so a 17:00 session stays at
    17:00 local time across a daylight-saving change (its UTC time moves).
    """
    if not 1 <= count <= SERIES_MAX_SESSIONS:
        raise OfficeHoursError(f"A series has between 1 and {SERIES_MAX_SESSIONS} sessions.")
    leads = _check_leads(cohort, leads)
    cohort_zone = zoneinfo.ZoneInfo(cohort.timezone)
    local_first = first_starts_at.astimezone(cohort_zone).replace(tzinfo=None)
    first_number = _next_number(cohort)
    sessions = []
    for week in range(count):
        local = local_first + dt.timedelta(weeks=week)
        session = OfficeHoursSession.objects.create(
            cohort=cohort,
            number=first_number + week,
            title=title.strip(),
            starts_at=timezone.make_aware(local, cohort_zone).astimezone(dt.UTC),
            duration_minutes=duration_minutes,
            meeting_url=meeting_url,
        )
        session.leads.set(leads)
        sessions.append(session)
    logger.info("%s weekly office hours sessions scheduled for cohort %s", count, cohort.slug)
    return sessions


@transaction.atomic
def session_update(
    *,
    session: OfficeHoursSession,
    title: str,
    starts_at: dt.datetime,
    duration_minutes: int,
    leads: Iterable[User],
    meeting_url: str,
) -> OfficeHoursSession:
    """Change a session; a new time or length bumps `sequence` so calendar copies get replaced."""
    leads = _check_leads(session.cohort, leads)
    rescheduled = starts_at != session.starts_at or duration_minutes != session.duration_minutes
    session.title = title.strip()
    session.starts_at = starts_at
    session.duration_minutes = duration_minutes
    session.meeting_url = meeting_url
    fields = ["title", "starts_at", "duration_minutes", "meeting_url"]
    if rescheduled:
        session.sequence += 1
        fields.append("sequence")
    session.save(update_fields=fields)
    session.leads.set(leads)
    session_touch(session=session)  # the meeting link and times show on the live panels
    return session


@transaction.atomic
def session_set_status(*, session: OfficeHoursSession, status: str) -> OfficeHoursSession:
    if status not in SessionStatus.values:
        raise OfficeHoursError(f"{status!r} is not a session status.")
    session.status = status
    session.save(update_fields=["status"])
    if status == SessionStatus.ENDED:
        # Nobody is helped after the session: open queue places become history (see help_queue_close).
        help_queue_close(session=session)
    # Open session pages follow the status within a poll (issue 12: "live means live").
    session_touch(session=session)
    return session


# --- Topics -----------------------------------------------------------------------------


def _clean_notes(notes: str) -> str:
    notes = normalize_newlines(notes)
    if len(notes) > TOPIC_NOTES_MAX_CHARS:
        raise OfficeHoursError(f"Keep topic notes under {TOPIC_NOTES_MAX_CHARS} characters (they have {len(notes)}).")
    return notes


def _check_step(session: OfficeHoursSession, step: RoadmapStep | None) -> None:
    if step is not None and step.cohort_id != session.cohort_id:
        raise OfficeHoursError("That step belongs to another cohort.")


@transaction.atomic
def topic_create(
    *, session: OfficeHoursSession, title: str, step: RoadmapStep | None = None, notes: str = ""
) -> SessionTopic:
    """Add a topic at the end of the session's list."""
    _check_step(session, step)
    notes = _clean_notes(notes)
    OfficeHoursSession.objects.select_for_update().filter(pk=session.pk).first()
    highest = session.topics.aggregate(n=Max("position"))["n"] or 0
    return SessionTopic.objects.create(
        session=session, position=highest + 1, title=title.strip(), step=step, notes=notes
    )


@transaction.atomic
def topic_update(*, topic: SessionTopic, title: str, step: RoadmapStep | None, notes: str) -> SessionTopic:
    _check_step(topic.session, step)
    topic.title = title.strip()
    topic.step = step
    topic.notes = _clean_notes(notes)
    topic.save(update_fields=["title", "step", "notes"])
    return topic


@transaction.atomic
def topic_delete(*, topic: SessionTopic) -> None:
    """Remove a topic and close the gap in the numbering.

    Questions answered under it stay answered, without a topic.
    """
    session_id, position = topic.session_id, topic.position
    topic.delete()
    # One row at a time, lowest first, so the unique (session, position) never collides.
    for later in SessionTopic.objects.filter(session_id=session_id, position__gt=position).order_by("position"):
        later.position -= 1
        later.save(update_fields=["position"])


# --- Questions --------------------------------------------------------------------------


def _clean_body(body: str) -> str:
    # Counted after CRLF -> LF, as stored: a browser counts a line break once towards maxlength.
    body = normalize_newlines(body).strip()
    if not body:
        raise OfficeHoursError("Write your question first.")
    if len(body) > QUESTION_MAX_CHARS:
        raise OfficeHoursError(f"Keep a question under {QUESTION_MAX_CHARS} characters (it has {len(body)}).")
    return body


def _check_open(session: OfficeHoursSession) -> None:
    if not session.accepts_questions:
        raise OfficeHoursError("This session has ended; it no longer takes questions or votes.")


def _locked_question(question: SessionQuestion) -> SessionQuestion:
    """The question's current row, locked, refused once answered."""
    current = SessionQuestion.objects.select_for_update().select_related("session").get(pk=question.pk)
    if current.is_answered:
        raise OfficeHoursError("This question has been answered; it can no longer change.")
    return current


@transaction.atomic
def question_post(*, session: OfficeHoursSession, author: Membership, body: str) -> SessionQuestion:
    check_member(session, author)
    _check_open(session)
    # The membership row is locked so two tabs posting at once cannot both pass the count.
    Membership.objects.select_for_update().filter(pk=author.pk).first()
    if SessionQuestion.objects.filter(session=session, author=author).count() >= QUESTIONS_PER_LEARNER_PER_SESSION:
        raise OfficeHoursError(
            f"You have asked {QUESTIONS_PER_LEARNER_PER_SESSION} questions in this session, the most one person can."
            " Edit one of yours, or delete one you no longer need."
        )
    now = timezone.now()
    question = SessionQuestion.objects.create(session=session, author=author, body=_clean_body(body), created_at=now)
    membership_touch(membership=author, at=now)
    return question


@transaction.atomic
def question_edit(*, question: SessionQuestion, author: Membership, body: str) -> SessionQuestion:
    current = _locked_question(question)
    if current.author_id != author.pk:
        raise PermissionDenied("Only the author can edit a question.")
    _check_open(current.session)
    current.body = _clean_body(body)
    current.edited_at = timezone.now()
    current.save(update_fields=["body", "edited_at"])
    return current


@transaction.atomic
def question_delete(*, question: SessionQuestion, author: Membership) -> None:
    current = _locked_question(question)
    if current.author_id != author.pk:
        raise PermissionDenied("Only the author can delete a question.")
    current.delete()


@transaction.atomic
def question_upvote(*, question: SessionQuestion, voter: Membership) -> bool:
    """Add the voter's one vote; True if it is new, False if they had already voted."""
    current = _locked_question(question)
    check_member(current.session, voter)
    _check_open(current.session)
    if current.author_id == voter.pk:
        raise OfficeHoursError("You cannot upvote your own question.")
    _vote, created = QuestionVote.objects.get_or_create(question=current, voter=voter)
    return created


@transaction.atomic
def question_withdraw_vote(*, question: SessionQuestion, voter: Membership) -> bool:
    """Take the voter's vote back; True if there was one."""
    current = _locked_question(question)
    check_member(current.session, voter)
    _check_open(current.session)
    deleted, _ = QuestionVote.objects.filter(question=current, voter=voter).delete()
    return deleted > 0


@transaction.atomic
def question_mark_answered(
    *, question: SessionQuestion, topic: SessionTopic | None, at: dt.datetime | None = None
) -> SessionQuestion:
    """A lead records that the question was answered, under one of the session's topics (or none)."""
    current = SessionQuestion.objects.select_for_update().get(pk=question.pk)
    if topic is not None and topic.session_id != current.session_id:
        raise OfficeHoursError("That topic belongs to another session.")
    current.answered_at = current.answered_at or at or timezone.now()
    current.answered_topic = topic
    current.save(update_fields=["answered_at", "answered_topic"])
    return current


@transaction.atomic
def question_reopen(*, question: SessionQuestion) -> SessionQuestion:
    """Undo `question_mark_answered` (a lead's slip); the author can edit it again."""
    current = SessionQuestion.objects.select_for_update().get(pk=question.pk)
    current.answered_at = None
    current.answered_topic = None
    current.save(update_fields=["answered_at", "answered_topic"])
    return current


# --- Recap ------------------------------------------------------------------------------


@transaction.atomic
def recap_save(
    *, session: OfficeHoursSession, recap_markdown: str, publish: bool | None = None, at: dt.datetime | None = None
) -> OfficeHoursSession:
    """Store the recap text; `publish=True` publishes it (keeping the first publication time), False withdraws it.

    `None` leaves a published recap published, so fixing a typo does not hide it.
    """
    session.recap_markdown = normalize_newlines(recap_markdown).strip()
    if len(session.recap_markdown) > RECAP_MAX_CHARS:
        raise OfficeHoursError(
            f"Keep the recap under {RECAP_MAX_CHARS} characters (it has {len(session.recap_markdown)})."
        )
    if publish and not session.recap_markdown:
        raise OfficeHoursError("Write the recap before publishing it.")
    newly_published = bool(publish) and session.recap_published_at is None
    if publish:
        session.recap_published_at = session.recap_published_at or at or timezone.now()
    elif publish is False:
        session.recap_published_at = None
    session.save(update_fields=["recap_markdown", "recap_published_at"])
    if newly_published:
        # After the commit; the cohort hears about a recap once (re-publishing after an unpublish does not repeat it).
        recap_notification_enqueue(session_id=session.pk)
    return session
