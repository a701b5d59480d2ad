"""The session page's cached parts (cohort.office_hours.page_parts): what they read, their keys, their staleness.

Each staleness test views the page first (so the parts are cached), changes
something through the real service, and views again.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from cohort.models import Membership, QuestionVote, SessionQuestion, SessionStatus
from cohort.office_hours import live_services, page_parts, services
from cohort.office_hours.selectors import TOP_QUESTIONS
from config.table_versions import csrf_placeholder, table_name
from tests.cohort.office_hours.conftest import OfficeHours
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import HTMX, cohort_url, tables_read

pytestmark = pytest.mark.django_db

PAGE = cohort_url("session", "cohort-a", 1)


def _declared(tables) -> set[str]:  # type: ignore[no-untyped-def]
    return {table_name(t) for t in tables}


def _member(world, user) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.select_related("cohort").get(user=user, cohort=world.cohort)


def _page(client: Client, **params: str) -> str:
    response = client.get(PAGE, params)
    assert response.status_code == 200
    return response.content.decode()


def _question_item(html: str, question: SessionQuestion) -> str:
    start = html.index(f'id="question-{question.pk}"')
    return html[start : html.index("</li>", start)]


def _crowded(world, oh: OfficeHours) -> None:  # type: ignore[no-untyped-def]
    """More questions than the page shows at first (so only the top ones are read), votes, one answered."""
    for i in range(TOP_QUESTIONS + 2):
        SessionQuestion.objects.create(session=oh.session, author=world.bob_membership, body=f"Crowd question {i}")
    QuestionVote.objects.create(question=oh.bob_question, voter=world.alice_membership)
    services.question_mark_answered(question=oh.alice_question, topic=oh.topic)


# --- What the parts read -------------------------------------------------------------------


@pytest.mark.parametrize("show_all", [False, True], ids=["top", "all"])
@pytest.mark.parametrize("viewer", ["alice", "lead"])
def test_questions_section_reads_only_the_tables_it_declares(world, oh, viewer, show_all):
    _crowded(world, oh)
    membership = _member(world, getattr(world, viewer))
    request = RequestFactory().get(PAGE)

    with CaptureQueriesContext(connection) as captured:
        html = page_parts.questions_html(request, membership=membership, session=oh.session, show_all=show_all)

    assert 'id="questions"' in html
    assert captured.captured_queries, "the render ran (cold)"
    assert tables_read(captured) <= _declared(page_parts.QUESTIONS_TABLES)


def test_shared_parts_read_only_the_tables_they_declare(world, oh):
    oh.session.leads.add(world.lead)

    with CaptureQueriesContext(connection) as captured:
        parts = page_parts.shared_parts(session=oh.session, cohort=world.cohort)

    assert "GitHub collaboration" in parts.topics and "Led by" in parts.led_by and "ics" in parts.calendar
    assert captured.captured_queries, "the render ran (cold)"
    assert tables_read(captured) <= _declared(page_parts.SHARED_TABLES)


def test_a_second_view_reads_neither_part_again(world, oh):
    client = world.client_for(world.alice)
    first = _page(client)

    with CaptureQueriesContext(connection) as captured:
        second = _page(client)

    read = tables_read(captured)
    assert not read & {"cohort_sessionquestion", "cohort_questionvote", "cohort_sessiontopic"}
    assert "Alice asks: merge or rebase?" in second and "GitHub collaboration" in second
    assert second.count('class="question"') == first.count('class="question"') == 2


# --- Keys: what one viewer sees is not served to another ----------------------------------


def test_each_viewer_gets_their_own_questions_section(world, oh):
    services.question_upvote(question=oh.bob_question, voter=world.alice_membership)
    # Signed in before any view: a sign-in writes the user's row (last_login), which would move the stamps.
    alice, bob, lead = (world.client_for(user) for user in (world.alice, world.bob, world.lead))
    alice_page = _page(alice)  # cached first, as Alice sees it

    bob_page = _page(bob)
    lead_page = _page(lead)

    assert "(you)" in _question_item(alice_page, oh.alice_question)
    assert "(you)" not in _question_item(alice_page, oh.bob_question)
    assert 'aria-pressed="true"' in _question_item(alice_page, oh.bob_question)  # her vote
    assert "(you)" in _question_item(bob_page, oh.bob_question)
    assert "(you)" not in _question_item(bob_page, oh.alice_question)
    assert "Delete" in _question_item(bob_page, oh.bob_question) and "Delete" not in _question_item(
        bob_page, oh.alice_question
    )
    assert "Mark answered" in lead_page and "Mark answered" not in alice_page + bob_page


def test_the_cached_forms_carry_each_browsers_own_csrf_token(world, oh):
    # Bob in two browsers (two CSRF cookies), both signed in before any view: a sign-in writes the user's row.
    laptop, phone = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    laptop.force_login(world.bob)
    phone.force_login(world.bob)
    _page(laptop)  # the section is rendered and cached here

    with CaptureQueriesContext(connection) as captured:
        html = _page(phone)  # and served from the cache here
    assert "cohort_sessionquestion" not in tables_read(captured)
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))
    assert tokens and csrf_placeholder() not in html

    vote_url = cohort_url("question_vote", "cohort-a", 1, oh.alice_question.pk)
    response = phone.post(vote_url, {"csrfmiddlewaretoken": tokens.pop()}, **HTMX)

    assert response.status_code == 200  # a token cached from the laptop's request would be refused (403)
    assert QuestionVote.objects.filter(question=oh.alice_question, voter=world.bob_membership).exists()


def test_show_all_is_part_of_the_key(world, oh):
    _crowded(world, oh)
    client = world.client_for(world.alice)

    top = _page(client)
    everything = _page(client, all="1")

    assert "Show all" in top and "Show all" not in everything
    assert everything.count('<li class="question') > top.count('<li class="question')


# --- Staleness: every change shows on the next view ---------------------------------------


def test_a_new_question_shows_at_once(world, oh):
    bob = world.client_for(world.bob)
    assert "Rebase or squash?" not in _page(bob)

    services.question_post(session=oh.session, author=world.alice_membership, body="Rebase or squash?")

    assert "Rebase or squash?" in _page(bob)


def test_a_vote_and_its_withdrawal_show_at_once(world, oh):
    alice, bob = world.client_for(world.alice), world.client_for(world.bob)
    assert "▲ 0" in _question_item(_page(alice), oh.alice_question)
    assert 'aria-pressed="false"' in _question_item(_page(bob), oh.alice_question)

    services.question_upvote(question=oh.alice_question, voter=world.bob_membership)
    assert "▲ 1" in _question_item(_page(alice), oh.alice_question)
    assert 'aria-pressed="true"' in _question_item(_page(bob), oh.alice_question)

    services.question_withdraw_vote(question=oh.alice_question, voter=world.bob_membership)
    assert "▲ 0" in _question_item(_page(alice), oh.alice_question)
    assert 'aria-pressed="false"' in _question_item(_page(bob), oh.alice_question)


def test_an_answer_and_a_reopen_show_at_once(world, oh):
    alice = world.client_for(world.alice)
    assert "Answered" not in _question_item(_page(alice), oh.bob_question)

    services.question_mark_answered(question=oh.bob_question, topic=oh.topic)
    assert "Answered under topic 1: GitHub collaboration" in _question_item(_page(alice), oh.bob_question)

    services.question_reopen(question=oh.bob_question)
    assert "Answered" not in _question_item(_page(alice), oh.bob_question)


def test_an_edit_and_a_delete_show_at_once(world, oh):
    bob = world.client_for(world.bob)
    assert "Alice asks: merge or rebase?" in _page(bob)

    services.question_edit(question=oh.alice_question, author=world.alice_membership, body="Alice asks: why rebase?")
    page = _page(bob)
    assert "Alice asks: why rebase?" in page and "merge or rebase" not in page
    assert "edited" in _question_item(page, oh.alice_question)

    services.question_delete(question=oh.alice_question, author=world.alice_membership)
    assert "why rebase" not in _page(bob)


def test_the_session_going_live_and_ending_shows_at_once(world, oh):
    alice = world.client_for(world.alice)
    page = _page(alice)
    assert 'class="question-form' in page and "Add to calendar" in page

    services.session_set_status(session=oh.session, status=SessionStatus.LIVE)
    page = _page(alice)
    assert "Live now." in page and 'class="question-form' in page

    services.session_set_status(session=oh.session, status=SessionStatus.ENDED)
    page = _page(alice)
    assert "it takes no more questions or votes" in page and 'class="question-form' not in page
    assert "Add to calendar" not in page  # the shared part follows the session row too
    assert "vote-button" not in page


def test_topic_edits_show_at_once_in_the_topics_and_the_leads_answer_forms(world, oh):
    lead, alice = world.client_for(world.lead), world.client_for(world.alice)
    assert "Sampling" not in _page(lead) + _page(alice)

    topic = services.topic_create(session=oh.session, title="Sampling", step=world.steps[1], notes="**top-p**")
    page = _page(lead)
    assert '<span class="topic-number">3</span> Sampling' in page
    assert "<strong>top-p</strong>" in page
    assert ">3. Sampling</option>" in page  # the lead's "answered under topic" choice
    assert "Sampling" in _page(alice)

    services.topic_update(topic=topic, title="Temperature", step=None, notes="")
    page = _page(lead)
    assert "Sampling" not in page and ">3. Temperature</option>" in page

    services.topic_delete(topic=oh.topic)
    page = _page(alice)
    assert "GitHub collaboration" not in page
    assert '<span class="topic-number">2</span> Temperature' in page


def test_lead_and_name_changes_show_at_once(world, oh):
    alice = world.client_for(world.alice)
    assert "Led by" in _page(alice) and "Grace" not in _page(alice)
    other_lead = MembershipFactory(cohort=world.cohort, role="lead", user=UserFactory(name="Grace")).user

    services.session_update(
        session=oh.session,
        title=oh.session.title,
        starts_at=oh.session.starts_at,
        duration_minutes=oh.session.duration_minutes,
        leads=[other_lead],
        meeting_url=oh.session.meeting_url,
    )
    assert "Led by Grace" in _page(alice)

    world.bob.name = "Robert"
    world.bob.save(update_fields=["name"])
    assert "Robert" in _question_item(_page(alice), oh.bob_question)


def test_an_rsvp_does_not_evict_the_questions(world, oh):
    """RSVPs, check-ins and help requests write the session row (its live_version): the questions do not read it."""
    alice = world.client_for(world.alice)
    _page(alice)

    live_services.rsvp_add(session=oh.session, membership=world.bob_membership)
    with CaptureQueriesContext(connection) as captured:
        page = _page(alice)

    assert "cohort_sessionquestion" not in tables_read(captured)
    assert "<strong>1</strong> going" in page
