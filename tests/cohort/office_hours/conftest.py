"""Fixtures the office-hours view tests share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from cohort.models import Cohort, Membership, OfficeHoursSession, SessionQuestion, SessionStatus, SessionTopic
from tests.factories import QuestionFactory, SessionFactory, TopicFactory

# The live session's check-in code (the `live` fixture).
CODE = "H4RB9T"
# The session page's queries, whatever the number of questions: session, user, membership, the session;
# the cached parts every viewer shares (its leads, its topics); the viewer's cached questions section (the
# topics, the question totals (only the top questions are read), the questions with votes counted); the
# RSVP / check-in panel and the announcements.
SESSION_PAGE_QUERIES = 11
# The same page again with nothing written meanwhile: session, user, membership, the session; the cached
# parts, the RSVP panel and the announcements come from the cache.
SESSION_PAGE_WARM_QUERIES = 4


@dataclass
class OfficeHours:
    session: OfficeHoursSession
    topic: SessionTopic
    alice_question: SessionQuestion
    bob_question: SessionQuestion
    foreign_session: OfficeHoursSession
    foreign_question: SessionQuestion


@pytest.fixture
def oh(world) -> OfficeHours:
    """Session 1 of cohort A (upcoming, two topics, a question each from alice and bob) and a cohort B session."""
    session = SessionFactory(
        cohort=world.cohort,
        number=1,
        title="Git and Qwen3",
        starts_at=dt.datetime(2030, 3, 13, 17, 0, tzinfo=dt.UTC),
        meeting_url="https://meet.example/oh-1",
    )
    session.leads.set([world.lead])
    topic = TopicFactory(session=session, position=1, title="GitHub collaboration", step=world.steps[0])
    TopicFactory(session=session, position=2, title="Cohort learning")
    alice_q = QuestionFactory(session=session, author=world.alice_membership, body="Alice asks: merge or rebase?")
    bob_q = QuestionFactory(session=session, author=world.bob_membership, body="Bob asks: why temperature?")
    foreign_cohort = Cohort.objects.get(slug="cohort-b")
    foreign = SessionFactory(cohort=foreign_cohort, number=5, title="Cohort B only")
    foreign_q = QuestionFactory(session=foreign, author=Membership.objects.get(user=world.outsider))
    return OfficeHours(session, topic, alice_q, bob_q, foreign, foreign_q)


@pytest.fixture
def live(world) -> OfficeHoursSession:
    """Session 1 of cohort A, live, led by the lead; cohort B has a session 5."""
    session = SessionFactory(
        cohort=world.cohort,
        number=1,
        title="Git and Qwen3",
        status=SessionStatus.LIVE,
        starts_at=timezone.now() - dt.timedelta(minutes=10),
        check_in_code=CODE,
    )
    session.leads.set([world.lead])
    outsider = Membership.objects.get(user=world.outsider)
    SessionFactory(cohort=outsider.cohort, number=5, status=SessionStatus.LIVE, check_in_code="OTHER5")
    return session
