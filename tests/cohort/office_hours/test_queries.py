"""Office-hours pages run a fixed number of queries, whatever the number of questions, votes or learners."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from cohort.models import Membership, OfficeHoursSession, QuestionVote, Role, SessionQuestion, User
from tests.cohort.office_hours.conftest import SESSION_PAGE_QUERIES, SESSION_PAGE_WARM_QUERIES
from tests.factories import SessionFactory, TopicFactory

LEARNERS = 200
# Session, user, membership, the session, its topics, every question (with votes counted).
SESSION_ALL_QUESTIONS_QUERIES = 6
# Again with nothing written meanwhile: the section comes from the cache.
SESSION_ALL_QUESTIONS_WARM_QUERIES = 4
# Session, user, membership, the sessions (with counts), their leads.
SESSION_LIST_QUERIES = 5
# Session, user, membership, the chosen step, steps for the filter, the recaps, their topics with steps.
RECAP_LIST_QUERIES = 7


def _crowd(cohort, count: int) -> list[Membership]:  # type: ignore[no-untyped-def]
    password = make_password(None)
    users = User.objects.bulk_create(
        User(email=f"oh-crowd{i}@example.com", name=f"Crowd {i:03d}", password=password) for i in range(count)
    )
    return Membership.objects.bulk_create(Membership(user=u, cohort=cohort, role=Role.LEARNER) for u in users)


def _questions(session: OfficeHoursSession, authors: list[Membership], count: int) -> None:
    """`count` questions from the crowd, each upvoted by up to 20 others, a third of them answered."""
    topics = [TopicFactory(session=session, position=i, step=None) for i in (1, 2, 3)]
    now = timezone.now()
    questions = SessionQuestion.objects.bulk_create(
        SessionQuestion(
            session=session,
            author=authors[i % len(authors)],
            body=f"Question {i}: why does **temperature** {i} matter?",
            created_at=now - dt.timedelta(minutes=i),
            answered_at=now if i % 3 == 0 else None,
            answered_topic=topics[i % 3] if i % 3 == 0 else None,
        )
        for i in range(count)
    )
    QuestionVote.objects.bulk_create(
        QuestionVote(question=q, voter=authors[(i + j + 1) % len(authors)])
        for i, q in enumerate(questions)
        for j in range(i % 20)
    )


@pytest.mark.parametrize("count", [pytest.param(5, id="5-questions"), pytest.param(300, id="300-questions")])
@pytest.mark.parametrize("viewer", ["alice", "lead"])
def test_session_page_query_count_constant(world, count, viewer, django_assert_num_queries):
    session = SessionFactory(cohort=world.cohort, number=1)
    session.leads.set([world.lead])
    crowd = _crowd(world.cohort, LEARNERS)
    _questions(session, [world.alice_membership, *crowd], count)
    client = world.client_for(getattr(world, viewer))

    with django_assert_num_queries(SESSION_PAGE_QUERIES):
        response = client.get(f"/c/{world.cohort.slug}/sessions/1/")

    assert response.status_code == 200
    page = response.context["page"]
    assert page.question_count == count
    votes = [q.vote_count for q in page.open_questions]
    assert votes == sorted(votes, reverse=True)
    assert sum(len(t.answered) for t in page.topics) == len(page.answered_questions)

    with django_assert_num_queries(SESSION_PAGE_WARM_QUERIES):
        again = client.get(f"/c/{world.cohort.slug}/sessions/1/")
    assert _questions_section(again) == _questions_section(response)  # the same list, from the cache


def _questions_section(response) -> str:  # type: ignore[no-untyped-def]
    """The page's questions section, each CSRF token (masked anew for every response) blanked."""
    html = response.content.decode()
    section = html[html.index('<section id="questions"') : html.index("</section>", html.index('id="questions"'))]
    assert section.count('class="question') >= 1
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", section)


@pytest.mark.parametrize("count", [pytest.param(2, id="2-sessions"), pytest.param(30, id="30-sessions")])
def test_session_list_query_count_constant(world, count, django_assert_num_queries):
    start = timezone.now() - dt.timedelta(weeks=count // 2)
    for n in range(1, count + 1):
        session = SessionFactory(cohort=world.cohort, number=n, starts_at=start + dt.timedelta(weeks=n))
        session.leads.set([world.lead])
        TopicFactory(session=session, position=1, step=world.steps[0])
    client = world.client_for(world.alice)

    with django_assert_num_queries(SESSION_LIST_QUERIES):
        response = client.get(f"/c/{world.cohort.slug}/sessions/")

    sessions = response.context["sessions"]
    assert len(sessions.upcoming) + len(sessions.past) == count


@pytest.mark.parametrize("count", [pytest.param(2, id="2-recaps"), pytest.param(30, id="30-recaps")])
def test_recap_list_query_count_constant(world, count, django_assert_num_queries):
    for n in range(1, count + 1):
        session = SessionFactory(cohort=world.cohort, number=n, recap_markdown="r", recap_published_at=timezone.now())
        TopicFactory(session=session, position=1, step=world.steps[n % 3])
        TopicFactory(session=session, position=2, step=None)
    client = world.client_for(world.alice)

    with django_assert_num_queries(RECAP_LIST_QUERIES):
        response = client.get(f"/c/{world.cohort.slug}/sessions/recaps/", {"step": "step-2"})

    assert len(response.context["recaps"]) == len([n for n in range(1, count + 1) if n % 3 == 1])


def test_session_page_shows_the_top_questions_and_the_viewers_own_then_all_on_demand(world, django_assert_num_queries):
    """Issue 12, performance: 300 questions on the page cost 46-72x the floor view; the top ones now, the rest later."""
    from cohort.office_hours.selectors import TOP_QUESTIONS

    session = SessionFactory(cohort=world.cohort, number=1)
    crowd = _crowd(world.cohort, LEARNERS)
    _questions(session, crowd, 300)
    own = SessionQuestion.objects.create(session=session, author=world.alice_membership, body="My unvoted question")
    client = world.client_for(world.alice)

    page = client.get(f"/c/{world.cohort.slug}/sessions/1/")
    shown = page.context["page"]
    html = page.content.decode()

    assert len(shown.open_questions) == TOP_QUESTIONS + 1  # the top ones, and Alice's own wherever it ranks
    assert own in shown.open_questions and shown.answered_questions == []
    assert (shown.question_count, shown.open_count, shown.answered_count) == (301, 201, 100)
    assert "Show all 301 questions" in html
    assert html.count('class="question ') + html.count('class="question"') == TOP_QUESTIONS + 1

    with django_assert_num_queries(SESSION_ALL_QUESTIONS_QUERIES):
        everything = client.get(f"/c/{world.cohort.slug}/sessions/1/questions/all/", HTTP_HX_REQUEST="true")
    full = everything.context["page"]
    with django_assert_num_queries(SESSION_ALL_QUESTIONS_WARM_QUERIES):
        assert (
            client.get(f"/c/{world.cohort.slug}/sessions/1/questions/all/", HTTP_HX_REQUEST="true").status_code == 200
        )
    assert len(full.open_questions) + len(full.answered_questions) == 301
    assert "Show all" not in everything.content.decode()
    assert 'hx-vals=\'{"all": "1"}\'' in everything.content.decode()  # a vote from the full list keeps it full
    # Without JavaScript the link goes to the page with every question.
    # (The same section as the htmx answer, so it comes from the cache: no page object to look at.)
    without_js = client.get(f"/c/{world.cohort.slug}/sessions/1/?all=1").content.decode()
    assert "Show all" not in without_js and without_js.count('<li class="question') == 301


def test_session_page_with_few_questions_shows_them_all(world):
    session = SessionFactory(cohort=world.cohort, number=1)
    _questions(session, [world.alice_membership, *_crowd(world.cohort, 10)], 9)

    page = world.client_for(world.alice).get(f"/c/{world.cohort.slug}/sessions/1/")

    assert page.context["page"].showing_all
    assert "Show all" not in page.content.decode()
