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
    User,
)

# The longest session a lead can schedule; a scheduled session that started longer ago than this is over.
_LONGEST_SESSION = dt.timedelta(minutes=480)


def session_for(*, cohort: Cohort, number: int) -> OfficeHoursSession | None:
    session = OfficeHoursSession.objects.filter(cohort=cohort, number=number).first()
    if session is not None:
        session.cohort = cohort  # the row the caller holds: no join, no second copy
    return session


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


# The session page shows this many open questions (most upvoted first, plus the viewer's own); the rest,
# answered ones included, load on demand. 300 questions rendered at once made the page 46-72x the floor view.
TOP_QUESTIONS = 10


@dataclass
class SessionInfo:
    """What the session page shows to everyone alike besides the questions: its leads and its topics."""

    leads: list[User]
    topics: list[SessionTopic]


def session_info(*, session: OfficeHoursSession) -> SessionInfo:
    """The session's leads and its topics (with their steps): two queries."""
    return SessionInfo(
        leads=list(session.leads.all()),
        topics=list(session.topics.select_related("step").order_by("position")),
    )


@dataclass
class SessionPage:
    session: OfficeHoursSession
    topics: list[TopicWithAnswers]
    open_questions: list[SessionQuestion]
    answered_questions: list[SessionQuestion]
    answered_without_topic: list[SessionQuestion]
    # Set when only the top questions were read: the session's totals, for the counts and the "show all" link.
    open_total: int | None = None
    answered_total: int | None = None

    @property
    def showing_all(self) -> bool:
        return self.open_total is None

    @property
    def open_count(self) -> int:
        return len(self.open_questions) if self.open_total is None else self.open_total

    @property
    def answered_count(self) -> int:
        return len(self.answered_questions) if self.answered_total is None else self.answered_total

    @property
    def question_count(self) -> int:
        return self.open_count + self.answered_count

    @property
    def hidden_count(self) -> int:
        """Questions the page does not show yet (open ones below the top, and every answered one)."""
        return self.question_count - len(self.open_questions) - len(self.answered_questions)


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


def _top_question_ids(
    session: OfficeHoursSession, viewer: Membership | None, limit: int
) -> tuple[list[int], int, int] | None:
    """Ids of the `limit` most upvoted open questions plus the viewer's own, and the open and answered totals.

    One query of small columns over every question (ids and vote counts), to rank
    and count them. None when the session has no more than `limit` questions:
    the page shows them all. The viewer's own stay in view wherever they rank, so
    a learner who just asked (no votes yet) sees their question.
    """
    ranked = list(
        session.questions.annotate(vote_count=Count("votes"))
        .order_by("-vote_count", "created_at", "pk")
        .values_list("pk", "answered_at", "author_id")
    )
    if len(ranked) <= limit:
        return None
    shown, open_total, answered_total = [], 0, 0
    for pk, answered_at, author_id in ranked:
        if answered_at is not None:
            answered_total += 1
            continue
        open_total += 1
        if open_total <= limit or (viewer is not None and author_id == viewer.pk):
            shown.append(pk)
    return shown, open_total, answered_total


def session_page(
    *, session: OfficeHoursSession, viewer: Membership | None, question_limit: int | None = None
) -> SessionPage:
    """The topics and questions the session and recap pages show: two queries (topics, questions).

    With `question_limit`, one more light query ranks and counts every question;
    past the limit only the top open ones (and the viewer's own) are loaded, no
    answered ones: the page renders the same few questions for 30 or 3,000, and
    the rest loads on demand (`session_page` without a limit).
    """
    topics = [TopicWithAnswers(topic) for topic in session.topics.select_related("step").order_by("position")]
    questions = _questions(session, viewer)
    top = _top_question_ids(session, viewer, question_limit) if question_limit is not None else None
    if top is not None:
        shown, open_total, answered_total = top
        return SessionPage(session, topics, list(questions.filter(pk__in=shown)), [], [], open_total, answered_total)
    by_topic = {item.topic.pk: item for item in topics}
    open_questions, answered, without_topic = [], [], []
    for question in questions:
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
    return SessionPage(session, topics, open_questions, answered, without_topic)


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
        next_session=next(iter(live or coming), None),
        latest_recap=recaps[-1] if recaps else None,
    )
