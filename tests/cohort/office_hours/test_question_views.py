"""Office-hours questions through the views: asking, voting, editing, deleting, and the lead marking them answered; htmx and plain forms."""

from __future__ import annotations

import pytest

from cohort.models import (
    OfficeHoursSession,
    QuestionVote,
    SessionQuestion,
    SessionStatus,
)
from tests.factories import SessionFactory, TopicFactory
from tests.helpers import HTMX, cohort_url

pytestmark = pytest.mark.django_db


# --- Questions ----------------------------------------------------------------------------


def test_question_create_plain_post_redirects_to_the_question(world, oh):
    response = world.client_for(world.bob).post(cohort_url("question_create", "cohort-a", 1), {"body": "  Why C?  "})

    question = SessionQuestion.objects.get(body="Why C?")
    assert question.author == world.bob_membership
    assert response.status_code == 302
    assert response.url == cohort_url("session", "cohort-a", 1) + f"#question-{question.pk}"


def test_question_create_htmx_returns_the_questions_section(world, oh):
    response = world.client_for(world.bob).post(
        cohort_url("question_create", "cohort-a", 1), {"body": "Why C?"}, **HTMX
    )

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "cohort/office_hours/_questions.html"
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="questions"')
    assert "Why C?" in html
    assert "<html" not in html


@pytest.mark.parametrize(
    ("body", "error"),
    [("", "Write your question first."), ("   ", "Write your question first."), ("x" * 2001, "at most 2000")],
    ids=["empty", "blank", "oversized"],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_question_create_invalid_shows_form_error(world, oh, body, error, headers):
    response = world.client_for(world.bob).post(cohort_url("question_create", "cohort-a", 1), {"body": body}, **headers)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert SessionQuestion.objects.count() == 3


def test_question_create_on_ended_session_is_refused(world, oh):
    OfficeHoursSession.objects.filter(pk=oh.session.pk).update(status=SessionStatus.ENDED)

    response = world.client_for(world.bob).post(cohort_url("question_create", "cohort-a", 1), {"body": "Late"})

    assert response.status_code == 400
    assert "has ended" in response.content.decode()
    assert not SessionQuestion.objects.filter(body="Late").exists()


def test_vote_second_upvote_changes_nothing_and_withdraw_removes_it(world, oh):
    client = world.client_for(world.alice)
    url = cohort_url("question_vote", "cohort-a", 1, oh.bob_question.pk)

    first = client.post(url, **HTMX)
    second = client.post(url, **HTMX)
    votes_after_two = QuestionVote.objects.filter(question=oh.bob_question).count()
    withdrawn = client.post(url, {"withdraw": "1"}, **HTMX)

    assert (first.status_code, second.status_code, withdrawn.status_code) == (200, 200, 200)
    assert votes_after_two == 1
    assert 'aria-pressed="true"' in first.content.decode()
    assert not QuestionVote.objects.exists()
    assert 'aria-pressed="true"' not in withdrawn.content.decode()


def test_vote_plain_post_redirects_back_to_the_question(world, oh):
    response = world.client_for(world.alice).post(cohort_url("question_vote", "cohort-a", 1, oh.bob_question.pk))

    assert response.status_code == 302
    assert response.url.endswith(f"#question-{oh.bob_question.pk}")
    assert QuestionVote.objects.filter(voter=world.alice_membership).count() == 1


def test_vote_on_own_question_is_refused_with_a_message(world, oh):
    response = world.client_for(world.alice).post(
        cohort_url("question_vote", "cohort-a", 1, oh.alice_question.pk), **HTMX
    )

    assert response.status_code == 400
    assert "cannot upvote your own question" in response.content.decode()
    assert not QuestionVote.objects.exists()


def test_question_edit_by_author(world, oh):
    client = world.client_for(world.alice)
    url = cohort_url("question_edit", "cohort-a", 1, oh.alice_question.pk)

    form_page = client.get(url)
    response = client.post(url, {"body": "Merge or rebase on a shared branch?"})

    assert "Alice asks: merge or rebase?" in form_page.content.decode()
    assert response.status_code == 302
    oh.alice_question.refresh_from_db()
    assert oh.alice_question.body == "Merge or rebase on a shared branch?"


def test_question_edit_with_oversized_body_shows_error(world, oh):
    response = world.client_for(world.alice).post(
        cohort_url("question_edit", "cohort-a", 1, oh.alice_question.pk), {"body": "y" * 2001}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["body"]
    oh.alice_question.refresh_from_db()
    assert oh.alice_question.body == "Alice asks: merge or rebase?"


def test_question_delete_by_author_htmx(world, oh):
    response = world.client_for(world.alice).post(
        cohort_url("question_delete", "cohort-a", 1, oh.alice_question.pk), **HTMX
    )

    assert response.status_code == 200
    assert "Alice asks" not in response.content.decode()
    assert not SessionQuestion.objects.filter(pk=oh.alice_question.pk).exists()


def test_lead_marks_question_answered_under_topic_and_reopens_it(world, oh):
    client = world.client_for(world.lead)
    url = cohort_url("question_answer", "cohort-a", 1, oh.bob_question.pk)

    answered = client.post(url, {"topic": oh.topic.pk}, **HTMX)
    oh.bob_question.refresh_from_db()
    topic_after_answer = oh.bob_question.answered_topic
    client.post(url, {"reopen": "1"})

    assert answered.status_code == 200
    assert "Answered under topic 1" in answered.content.decode()
    assert topic_after_answer == oh.topic
    oh.bob_question.refresh_from_db()
    assert not oh.bob_question.is_answered


def test_lead_answer_with_topic_of_another_session_is_refused(world, oh):
    other_topic = TopicFactory(session=SessionFactory(cohort=world.cohort, number=9))

    response = world.client_for(world.lead).post(
        cohort_url("question_answer", "cohort-a", 1, oh.bob_question.pk), {"topic": other_topic.pk}, **HTMX
    )

    assert response.status_code == 400
    oh.bob_question.refresh_from_db()
    assert not oh.bob_question.is_answered
