"""Agenda builder: topic proposals for the next office-hours session, and adding one in a click.

Two sources, both read fresh on every page view:

- questions: the most upvoted unanswered questions of any of the cohort's
  sessions, upcoming, live or ended (a question nobody got to in an ended
  session is exactly what the next agenda should pick up); the topic takes the
  question's first line as its title and a note that links back to the question;
- steps: the roadmap steps with the most learners who have an open blocker;
  the topic is tied to the step. Its note gives the number of learners only:
  topic notes are shown to the whole cohort, blocker texts are not.

Adding checks the session for a topic with the same title and step first, so
a double click, a second lead or a reload adds the topic once.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from cohort.errors import Refused
from cohort.models import (
    CheckIn,
    CheckInStatus,
    Cohort,
    OfficeHoursSession,
    RoadmapStep,
    Role,
    SessionQuestion,
    SessionStatus,
    SessionTopic,
)
from cohort.office_hours.services import topic_create

QUESTION_PROPOSALS = 8
STEP_PROPOSALS = 5
BLOCKERS_SHOWN_PER_STEP = 3
TITLE_MAX_CHARS = 200  # SessionTopic.title
QUOTE_MAX_CHARS = 600
_MARKDOWN_LEAD = re.compile(r"^(?:#{1,6}\s+|>\s*|[-*+]\s+|\d+[.)]\s+)+")


class AgendaError(Refused):
    """A proposal that cannot be added; the message is safe to show."""


class ProposalKind:
    QUESTION = "question"
    STEP = "step"
    ALL = (QUESTION, STEP)


@dataclass
class Proposal:
    kind: str
    ref_id: int
    title: str
    step: RoadmapStep | None
    notes: str
    question: SessionQuestion | None = None
    votes: int = 0
    blocked_learners: int = 0
    blockers: list[CheckIn] = field(default_factory=list)
    # The next session's topic with this exact title and step, if it is on the agenda already.
    existing: SessionTopic | None = None
    # Other topics of the next session on the same step (the lead may not need another).
    same_step: list[SessionTopic] = field(default_factory=list)


@dataclass
class Agenda:
    next_session: OfficeHoursSession | None
    topics: list[SessionTopic]
    questions: list[Proposal]
    steps: list[Proposal]


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def question_title(body: str, *, fallback: str) -> str:
    """The first line that says something, without its Markdown heading, quote or list marker."""
    in_fence = False
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        line = " ".join(_MARKDOWN_LEAD.sub("", line).split())
        if any(ch.isalnum() for ch in line):
            return _truncate(line, TITLE_MAX_CHARS)
    return fallback


def _question_url(question: SessionQuestion) -> str:
    url = reverse("cohort:session", args=[question.session.cohort.slug, question.session.number])
    return f"{url}#question-{question.pk}"


def _question_proposal(question: SessionQuestion, votes: int) -> Proposal:
    session = question.session
    quote = "\n".join(f"> {line}" for line in _truncate(question.body.strip(), QUOTE_MAX_CHARS).splitlines())
    notes = (
        f"From [a question on session {session.number}]({_question_url(question)}) "
        f"({votes} vote{'s' if votes != 1 else ''}):\n\n{quote}"
    )
    return Proposal(
        kind=ProposalKind.QUESTION,
        ref_id=question.pk,
        title=question_title(question.body, fallback=f"Question from session {session.number}"),
        step=None,
        notes=notes,
        question=question,
        votes=votes,
    )


def step_topic_title(step: RoadmapStep) -> str:
    return _truncate(f"Unblocking {step.code}: {step.title}", TITLE_MAX_CHARS)


def _step_proposal(step: RoadmapStep, blocked_learners: int) -> Proposal:
    url = reverse("cohort:step", args=[step.cohort.slug, step.slug])
    who = f"{blocked_learners} learner{'s' if blocked_learners != 1 else ''}" if blocked_learners else "Learners"
    notes = f"{who} reported being blocked on [{step.code}: {step.title}]({url}) in their check-ins."
    return Proposal(
        kind=ProposalKind.STEP,
        ref_id=step.pk,
        title=step_topic_title(step),
        step=step,
        notes=notes,
        blocked_learners=blocked_learners,
    )


def _open_blockers(cohort: Cohort) -> Q:
    return Q(
        check_ins__status=CheckInStatus.BLOCKED,
        check_ins__resolved_at__isnull=True,
        check_ins__membership__role=Role.LEARNER,
        check_ins__membership__cohort=cohort,
    )


def next_session(*, cohort: Cohort, now: dt.datetime) -> OfficeHoursSession | None:
    """The soonest scheduled session that has not started: the one a topic is added to."""
    return (
        OfficeHoursSession.objects.select_related("cohort")
        .filter(cohort=cohort, status=SessionStatus.SCHEDULED, starts_at__gt=now)
        .order_by("starts_at", "number")
        .first()
    )


def _mark_existing(proposals: list[Proposal], topics: list[SessionTopic]) -> None:
    for proposal in proposals:
        step_id = proposal.step.pk if proposal.step else None
        for topic in topics:
            if topic.step_id == step_id and topic.title.casefold() == proposal.title.casefold():
                proposal.existing = topic
            elif step_id is not None and topic.step_id == step_id:
                proposal.same_step.append(topic)


def agenda_for(*, cohort: Cohort, now: dt.datetime | None = None) -> Agenda:
    """Proposals for the next session: five queries, whatever the number of questions or learners.

    The next session, its topics, the top questions (votes counted), the steps
    with the most blocked learners, and those steps' open blockers.
    """
    now = now or timezone.now()
    upcoming = next_session(cohort=cohort, now=now)
    topics = list(upcoming.topics.select_related("step").order_by("position")) if upcoming else []
    questions = (
        SessionQuestion.objects.filter(session__cohort=cohort, answered_at__isnull=True)
        .select_related("session__cohort")
        .annotate(vote_count=Count("votes"))
        .order_by("-vote_count", "created_at", "pk")[:QUESTION_PROPOSALS]
    )
    question_proposals = [_question_proposal(q, q.vote_count) for q in questions]
    steps = list(
        RoadmapStep.objects.filter(cohort=cohort)
        .select_related("cohort")
        .annotate(blocked_learners=Count("check_ins__membership", filter=_open_blockers(cohort), distinct=True))
        .filter(blocked_learners__gt=0)
        .order_by("-blocked_learners", "position")[:STEP_PROPOSALS]
    )
    step_proposals = [_step_proposal(s, s.blocked_learners) for s in steps]
    if step_proposals:
        by_step = {p.ref_id: p for p in step_proposals}
        for check_in in (
            CheckIn.objects.filter(
                step__in=list(by_step),
                status=CheckInStatus.BLOCKED,
                resolved_at__isnull=True,
                membership__role=Role.LEARNER,
            )
            .select_related("membership__user")
            .order_by("-created_at", "-pk")
        ):
            shown = by_step[check_in.step_id].blockers
            if len(shown) < BLOCKERS_SHOWN_PER_STEP:
                shown.append(check_in)
    _mark_existing(question_proposals + step_proposals, topics)
    return Agenda(next_session=upcoming, topics=topics, questions=question_proposals, steps=step_proposals)


def proposal_for(*, cohort: Cohort, kind: str, ref_id: int, now: dt.datetime | None = None) -> Proposal | None:
    """The proposal a lead clicked, rebuilt from the database (never from posted text); None if not in this cohort."""
    if kind == ProposalKind.QUESTION:
        question = (
            SessionQuestion.objects.filter(pk=ref_id, session__cohort=cohort)
            .select_related("session__cohort")
            .annotate(vote_count=Count("votes"))
            .first()
        )
        if question is None:
            return None
        if question.is_answered:
            raise AgendaError("That question has been answered already.")
        return _question_proposal(question, question.vote_count)
    if kind == ProposalKind.STEP:
        step = (
            RoadmapStep.objects.filter(pk=ref_id, cohort=cohort)
            .select_related("cohort")
            .annotate(blocked_learners=Count("check_ins__membership", filter=_open_blockers(cohort), distinct=True))
            .first()
        )
        return _step_proposal(step, step.blocked_learners) if step else None
    return None


@transaction.atomic
def agenda_add(*, session: OfficeHoursSession, proposal: Proposal) -> tuple[SessionTopic, bool]:
    """Add the proposal as the session's last topic; (topic, False) if one with its title and step is there already.

    The session row is locked before the check, so two leads clicking at once
    still end up with one topic.
    """
    locked = OfficeHoursSession.objects.select_for_update().get(pk=session.pk)
    if locked.status == SessionStatus.ENDED:
        raise AgendaError(f"Session {locked.number} has ended; add the topic to a later session.")
    step = proposal.step
    if step is not None and step.cohort_id != locked.cohort_id:
        raise AgendaError("That step belongs to another cohort.")
    existing = locked.topics.filter(title__iexact=proposal.title, step=step).order_by("position").first()
    if existing is not None:
        return existing, False
    return topic_create(session=locked, title=proposal.title, step=step, notes=proposal.notes), True
