"""Reads that office-hours pages need, each a fixed number of queries whatever the number of questions or voters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from cohort.models import (
    Cohort,
    Membership,
    OfficeHoursSession,
    QuestionVote,
    RoadmapStep,
    SessionQuestion,
    SessionStatus,
    SessionTopic,
)

# The longest session a lead can schedule; a scheduled session that started longer ago than this is over.
_LONGEST_SESSION = dt.timedelta(minutes=480)


def session_for(*, cohort: Cohort, number: int) -> OfficeHoursSession | None:
    return OfficeHoursSession.objects.select_related("cohort").filter(cohort=cohort, number=number).first()


def topic_for(*, session: OfficeHoursSession, topic_id: int) -> SessionTopic | None:
    return session.topics.select_related("step").filter(pk=topic_id).first()


def question_for(*, session: OfficeHoursSession, question_id: int) -> SessionQuestion | None:
    return session.questions.filter(pk=question_id).first()


def own_question_for(*, session: OfficeHoursSession, author: Membership, question_id: int) -> SessionQuestion | None:
    """The viewer's own question: someone else's is not found, as if it did not exist."""
    return session.questions.filter(pk=question_id, author=author).first()


def _is_past(session: OfficeHoursSession, now: dt.datetime) -> bool:
    if session.status == SessionStatus.LIVE:
        return False
    return session.status == SessionStatus.ENDED or session.ends_at < now


@dataclass
class SessionList:
    upcoming: list[OfficeHoursSession]
    past: list[OfficeHoursSession]


def sessions_for_cohort(*, cohort: Cohort, now: dt.datetime | None = None) -> SessionList:
    """Upcoming (soonest first, live ones included) and past (latest first) sessions: two queries."""
    now = now or timezone.now()
    sessions = list(
        OfficeHoursSession.objects.filter(cohort=cohort)
        .defer("recap_markdown", "recap_html")
        .annotate(topic_count=Count("topics", distinct=True), question_count=Count("questions", distinct=True))
        .prefetch_related("leads")
        .order_by("starts_at", "number")
    )
    return SessionList(
        upcoming=[s for s in sessions if not _is_past(s, now)],
        past=[s for s in reversed(sessions) if _is_past(s, now)],
    )


@dataclass
class TopicWithAnswers:
    topic: SessionTopic
    answered: list[SessionQuestion] = field(default_factory=list)


@dataclass
class SessionPage:
    session: OfficeHoursSession
    leads: list
    topics: list[TopicWithAnswers]
    open_questions: list[SessionQuestion]
    answered_questions: list[SessionQuestion]
    answered_without_topic: list[SessionQuestion]

    @property
    def question_count(self) -> int:
        return len(self.open_questions) + len(self.answered_questions)


def _questions(session: OfficeHoursSession, viewer: Membership | None) -> QuerySet[SessionQuestion]:
    """Most votes first, then oldest first; each row knows its vote count and whether the viewer voted."""
    voted = (
        QuestionVote.objects.filter(question=OuterRef("pk"), voter=viewer) if viewer else QuestionVote.objects.none()
    )
    return (
        session.questions.select_related("author__user")
        .annotate(vote_count=Count("votes"), viewer_voted=Exists(voted))
        .order_by("-vote_count", "created_at", "pk")
    )


def session_page(*, session: OfficeHoursSession, viewer: Membership | None) -> SessionPage:
    """Everything the session and recap pages show: three queries (leads, topics, questions)."""
    leads = list(session.leads.all())
    topics = [TopicWithAnswers(topic) for topic in session.topics.select_related("step").order_by("position")]
    by_topic = {item.topic.pk: item for item in topics}
    open_questions, answered, without_topic = [], [], []
    for question in _questions(session, viewer):
        if not question.is_answered:
            open_questions.append(question)
            continue
        answered.append(question)
        if question.answered_topic_id in by_topic:
            item = by_topic[question.answered_topic_id]
            question.answered_topic = item.topic  # the row is loaded already: no query per question
            item.answered.append(question)
        else:
            without_topic.append(question)
    return SessionPage(session, leads, topics, open_questions, answered, without_topic)


def published_recaps(*, cohort: Cohort, step: RoadmapStep | None = None, search: str = "") -> list[OfficeHoursSession]:
    """Published recaps, latest session first, optionally only those covering `step`: two queries."""
    sessions = OfficeHoursSession.objects.filter(cohort=cohort, recap_published_at__isnull=False)
    if step is not None:
        sessions = sessions.filter(topics__step=step)
    if search:
        sessions = sessions.filter(
            Q(title__icontains=search) | Q(recap_markdown__icontains=search) | Q(topics__title__icontains=search)
        )
    return list(
        sessions.distinct()
        .defer("recap_markdown", "recap_html")
        .order_by("-starts_at", "-number")
        .prefetch_related(Prefetch("topics", queryset=SessionTopic.objects.select_related("step").order_by("position")))
    )


def recap_steps(*, cohort: Cohort) -> list[RoadmapStep]:
    """The steps a filter offers: those some published recap covers."""
    return list(
        RoadmapStep.objects.filter(cohort=cohort, office_hours_topics__session__recap_published_at__isnull=False)
        .distinct()
        .order_by("position")
    )


def step_for(*, cohort: Cohort, step_slug: str) -> RoadmapStep | None:
    return RoadmapStep.objects.filter(cohort=cohort, slug=step_slug).first()


def topics_for_step(*, step: RoadmapStep) -> list[SessionTopic]:
    """Session topics that covered a roadmap step, oldest session first: one query."""
    return list(
        SessionTopic.objects.filter(step=step, session__cohort_id=step.cohort_id)
        .select_related("session")
        .order_by("session__starts_at", "session__number", "position")
    )


@dataclass
class OfficeHoursPanel:
    next_session: OfficeHoursSession | None
    latest_recap: OfficeHoursSession | None


def office_hours_panel(*, cohort: Cohort, now: dt.datetime | None = None) -> OfficeHoursPanel:
    """The dashboard's next (or live) session and latest published recap: one query.

    The rows read are the cohort's sessions that may still come plus its published
    recaps, so they grow with the schedule (a few dozen), never with learners.
    """
    now = now or timezone.now()
    candidates = list(
        OfficeHoursSession.objects.filter(cohort=cohort)
        .filter(
            Q(status=SessionStatus.LIVE)
            | Q(status=SessionStatus.SCHEDULED, starts_at__gte=now - _LONGEST_SESSION)
            | Q(recap_published_at__isnull=False)
        )
        .only("number", "title", "starts_at", "duration_minutes", "status", "recap_published_at", "cohort_id")
        .order_by("starts_at", "number")
    )
    live = [s for s in candidates if s.status == SessionStatus.LIVE]
    coming = [s for s in candidates if s.status == SessionStatus.SCHEDULED and s.ends_at >= now]
    recaps = [s for s in candidates if s.recap_published_at is not None]
    return OfficeHoursPanel(
        next_session=(live or coming or [None])[0],
        latest_recap=recaps[-1] if recaps else None,
    )
