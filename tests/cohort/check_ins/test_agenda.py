"""Agenda builder: proposals from questions and blockers, the lead page, and adding a topic once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from cohort.check_ins import agenda
from cohort.check_ins import services as check_ins
from cohort.models import (
    CheckInStatus,
    Membership,
    QuestionVote,
    Role,
    SessionQuestion,
    SessionStatus,
    SessionTopic,
)
from tests.factories import MembershipFactory, QuestionFactory, SessionFactory, StepFactory, TopicFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _votes(question: SessionQuestion, voters: list[Membership]) -> SessionQuestion:
    QuestionVote.objects.bulk_create(QuestionVote(question=question, voter=v) for v in voters)
    return question


def _blocked(membership: Membership, step, text: str = "stuck") -> None:  # type: ignore[no-untyped-def]
    check_ins.check_in_post(membership=membership, step=step, status=CheckInStatus.BLOCKED, blocker_text=text)


@pytest.fixture
def learners(world) -> list[Membership]:
    extra = [MembershipFactory(cohort=world.cohort, user=UserFactory(name=f"L{i}")) for i in range(4)]
    return [world.alice_membership, world.bob_membership, *extra]


@pytest.fixture
def next_session(world):  # type: ignore[no-untyped-def]
    session = SessionFactory(cohort=world.cohort, number=5, title="Sampling", starts_at=NOW + dt.timedelta(days=3))
    SessionFactory(cohort=world.cohort, number=6, starts_at=NOW + dt.timedelta(days=10))  # later one
    return session


@pytest.fixture
def mentor(world) -> Membership:
    return MembershipFactory(cohort=world.cohort, role=Role.MENTOR, user=UserFactory(email="mentor@example.com"))


def _add(world, user, number: int, kind: str, ref_id: int):  # type: ignore[no-untyped-def]
    url = reverse("cohort:agenda_add", args=[world.cohort.slug, number])
    return world.client_for(user).post(url, {"kind": kind, "ref_id": ref_id})


# --- Proposals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ("Why does temperature 0 repeat itself?\nMore details", "Why does temperature 0 repeat itself?"),
        ("\n\n## How do  chat templates work?", "How do chat templates work?"),
        ("> quoting the docs: top-p\nrest", "quoting the docs: top-p"),
        ("```python\nprint(1)\n```\nWhy is this slow?", "Why is this slow?"),
        ("- - -\n* Is Q4_K_M good enough?", "Is Q4_K_M good enough?"),
        ("```\n```", "Question from session 5"),
        ("x" * 500, "x" * 199 + "…"),
    ],
)
def test_question_title_from_first_meaningful_line(body, title):
    assert agenda.question_title(body, fallback="Question from session 5") == title


def test_question_proposals_are_top_voted_open_questions_of_every_session(world, learners, next_session):
    live = SessionFactory(
        cohort=world.cohort, number=4, starts_at=NOW - dt.timedelta(minutes=20), status=SessionStatus.LIVE
    )
    ended = SessionFactory(
        cohort=world.cohort, number=3, starts_at=NOW - dt.timedelta(days=7), status=SessionStatus.ENDED
    )
    forgotten = SessionFactory(cohort=world.cohort, number=2, starts_at=NOW - dt.timedelta(days=8))  # never ended
    foreign = SessionFactory(starts_at=NOW + dt.timedelta(days=1))
    top = _votes(QuestionFactory(session=next_session, body="Top question", author=learners[0]), learners[1:5])
    second = _votes(QuestionFactory(session=live, body="Live question", author=learners[1]), learners[2:4])
    QuestionFactory(session=next_session, body="No votes yet", author=learners[2])
    answered = _votes(QuestionFactory(session=next_session, body="Answered one", author=learners[3]), learners[:3])
    SessionQuestion.objects.filter(pk=answered.pk).update(answered_at=NOW)
    _votes(QuestionFactory(session=ended, body="Old ended", author=learners[0]), learners[1:6])
    _votes(QuestionFactory(session=forgotten, body="Old forgotten", author=learners[0]), learners[1:6])
    QuestionFactory(session=foreign, body="Other cohort")

    result = agenda.agenda_for(cohort=world.cohort, now=NOW)

    # Questions nobody got to in an ended (or never ended) session stay proposed (issue 12, item 7).
    titles = [p.title for p in result.questions]
    assert titles == ["Old ended", "Old forgotten", "Top question", "Live question", "No votes yet"]
    assert [p.votes for p in result.questions] == [5, 5, 4, 2, 0]
    assert result.questions[2].question == top and result.questions[3].question == second
    assert result.next_session == next_session


def test_step_proposals_rank_steps_by_learners_with_open_blockers(world, learners, next_session):
    step1, step2, step3 = world.steps
    for m in learners[:3]:
        _blocked(m, step2)
    _blocked(learners[0], step2, "a second blocker: still one learner")
    _blocked(learners[3], step1)
    _blocked(learners[4], step3)
    check_ins.check_in_post(
        membership=learners[4], step=step3, status=CheckInStatus.ON_TRACK, done_text="solved"
    )  # resolves step 3

    result = agenda.agenda_for(cohort=world.cohort, now=NOW)

    assert [(p.step, p.blocked_learners) for p in result.steps] == [(step2, 3), (step1, 1)]
    assert result.steps[0].title == f"Unblocking Step 2: {step2.title}"
    assert len(result.steps[0].blockers) == agenda.BLOCKERS_SHOWN_PER_STEP


def test_step_proposal_note_keeps_blocker_texts_private(world, learners, next_session):
    _blocked(learners[0], world.steps[0], "PRIVATE: my laptop has 4 GB of RAM")

    proposal = agenda.agenda_for(cohort=world.cohort, now=NOW).steps[0]

    assert "PRIVATE" not in proposal.notes
    assert "1 learner reported" in proposal.notes


def test_next_session_skips_live_past_and_ended_sessions(world):
    SessionFactory(cohort=world.cohort, starts_at=NOW - dt.timedelta(minutes=5), status=SessionStatus.LIVE)
    SessionFactory(cohort=world.cohort, starts_at=NOW + dt.timedelta(hours=1), status=SessionStatus.ENDED)
    later = SessionFactory(cohort=world.cohort, starts_at=NOW + dt.timedelta(days=9))
    sooner = SessionFactory(cohort=world.cohort, starts_at=NOW + dt.timedelta(days=2))

    assert agenda.next_session(cohort=world.cohort, now=NOW) == sooner != later


# --- Adding -----------------------------------------------------------------------------------


def test_add_question_creates_topic_with_first_line_and_link_back(world, learners, next_session):
    TopicFactory(session=next_session, position=1, title="Welcome")
    question = _votes(
        QuestionFactory(session=next_session, body="# Why is greedy repetitive?\nI tried temp 0.", author=learners[0]),
        learners[1:3],
    )

    response = _add(world, world.lead, 5, "question", question.pk)

    assert response.status_code == 302
    topic = SessionTopic.objects.get(session=next_session, position=2)
    assert (topic.title, topic.step) == ("Why is greedy repetitive?", None)
    assert f"/c/{world.cohort.slug}/sessions/5/#question-{question.pk}" in topic.notes
    assert "2 votes" in topic.notes


def test_add_step_creates_topic_tied_to_the_step(world, learners, next_session):
    for m in learners[:2]:
        _blocked(m, world.steps[1])

    _add(world, world.lead, 5, "step", world.steps[1].pk)

    topic = SessionTopic.objects.get(session=next_session)
    assert topic.step == world.steps[1]
    assert topic.title.startswith("Unblocking Step 2")
    assert "2 learners reported" in topic.notes


@pytest.mark.parametrize("kind", ["question", "step"])
def test_adding_the_same_proposal_twice_creates_one_topic(world, learners, next_session, kind):
    question = QuestionFactory(session=next_session, body="Same question twice?", author=learners[0])
    _blocked(learners[1], world.steps[0])
    ref_id = question.pk if kind == "question" else world.steps[0].pk

    _add(world, world.lead, 5, kind, ref_id)
    second = _add(world, world.lead, 5, kind, ref_id)

    assert second.status_code == 302
    assert SessionTopic.objects.filter(session=next_session).count() == 1


def test_existing_topic_with_same_title_but_other_step_is_not_a_duplicate(world, learners, next_session):
    proposal = agenda.proposal_for(cohort=world.cohort, kind="step", ref_id=world.steps[0].pk)
    TopicFactory(session=next_session, position=1, title=proposal.title, step=world.steps[1])

    topic, created = agenda.agenda_add(session=next_session, proposal=proposal)

    assert created and topic.step == world.steps[0]


def test_agenda_page_marks_proposals_already_on_the_agenda(world, learners, next_session):
    question = QuestionFactory(session=next_session, body="Already added?", author=learners[0])
    _add(world, world.lead, 5, "question", question.pk)

    body = world.client_for(world.lead).get(reverse("cohort:lead_agenda", args=[world.cohort.slug])).content.decode()

    assert "On session 5's agenda (topic 1)" in body
    assert "Add to session 5" not in body


def test_add_to_ended_session_refused(world, learners):
    ended = SessionFactory(cohort=world.cohort, number=3, status=SessionStatus.ENDED)
    question = QuestionFactory(session=ended, body="Late question", author=learners[0])

    response = _add(world, world.lead, 3, "question", question.pk)

    assert response.status_code == 302
    assert not SessionTopic.objects.exists()


def test_add_answered_question_refused(world, learners, next_session):
    question = QuestionFactory(session=next_session, body="Done already", author=learners[0], answered_at=NOW)

    _add(world, world.lead, 5, "question", question.pk)

    assert not SessionTopic.objects.exists()


@pytest.mark.parametrize(("who", "status"), [("mentor", 403), ("alice", 403), ("outsider", 404)])
def test_add_refused_for_everyone_but_leads(world, learners, next_session, mentor, who, status):
    question = QuestionFactory(session=next_session, body="Q", author=learners[0])
    user = mentor.user if who == "mentor" else getattr(world, who)

    response = _add(world, user, 5, "question", question.pk)

    assert response.status_code == status
    assert not SessionTopic.objects.exists()


def test_add_another_cohorts_question_or_step_is_404(world, next_session):
    foreign_session = SessionFactory(starts_at=NOW + dt.timedelta(days=1))
    foreign_question = QuestionFactory(session=foreign_session)
    foreign_step = StepFactory(cohort=foreign_session.cohort, position=1)

    by_question = _add(world, world.lead, 5, "question", foreign_question.pk)
    by_step = _add(world, world.lead, 5, "step", foreign_step.pk)
    no_session = _add(world, world.lead, 99, "step", world.steps[0].pk)

    assert (by_question.status_code, by_step.status_code, no_session.status_code) == (404, 404, 404)
    assert not SessionTopic.objects.exists()


@pytest.mark.parametrize("data", [{"kind": "topic", "ref_id": "1"}, {"kind": "step", "ref_id": "x"}, {}])
def test_add_malformed_post_is_400(world, next_session, data):
    response = world.client_for(world.lead).post(reverse("cohort:agenda_add", args=[world.cohort.slug, 5]), data)

    assert response.status_code == 400


# --- Page -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [("lead", 200), ("mentor", 200), ("alice", 403), ("outsider", 404)])
def test_agenda_page_permissions(world, mentor, who, status):
    user = mentor.user if who == "mentor" else getattr(world, who)

    response = world.client_for(user).get(reverse("cohort:lead_agenda", args=[world.cohort.slug]))

    assert response.status_code == status


def test_agenda_page_shows_add_buttons_to_leads_only(world, learners, next_session, mentor):
    QuestionFactory(session=next_session, body="Visible question", author=learners[0])
    url = reverse("cohort:lead_agenda", args=[world.cohort.slug])

    lead_body = world.client_for(world.lead).get(url).content.decode()
    mentor_body = world.client_for(mentor.user).get(url).content.decode()

    assert "Add to session 5" in lead_body
    assert "Visible question" in mentor_body and "Add to session 5" not in mentor_body


def test_agenda_page_without_upcoming_session_says_so_with_a_link(world, learners):
    _blocked(learners[0], world.steps[0])

    body = world.client_for(world.lead).get(reverse("cohort:lead_agenda", args=[world.cohort.slug])).content.decode()

    assert "No session is scheduled" in body
    assert reverse("cohort:session_create", args=[world.cohort.slug]) in body
    assert "Unblocking Step 1" in body
    assert "Add to session" not in body


def test_unanswered_question_of_an_ended_session_is_proposed_and_added_to_the_next(world, learners, next_session):
    """Issue 12, item 7: what nobody got to when a session ended stays in the builder, on the page too."""
    ended = SessionFactory(
        cohort=world.cohort, number=3, starts_at=NOW - dt.timedelta(days=7), status=SessionStatus.ENDED
    )
    question = _votes(QuestionFactory(session=ended, body="Nobody got to me", author=learners[0]), learners[1:3])
    answered = QuestionFactory(session=ended, body="Answered in session 3", author=learners[1])
    SessionQuestion.objects.filter(pk=answered.pk).update(answered_at=NOW)

    page = world.client_for(world.lead).get(reverse("cohort:lead_agenda", args=[world.cohort.slug])).content.decode()
    assert "Nobody got to me" in page and "Answered in session 3" not in page

    response = _add(world, world.lead, 5, "question", question.pk)

    assert response.status_code == 302
    topic = SessionTopic.objects.get(session=next_session)
    assert topic.title == "Nobody got to me"
    assert f"/sessions/3/#question-{question.pk}" in topic.notes
