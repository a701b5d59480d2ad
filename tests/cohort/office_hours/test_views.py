"""Office-hours pages: anonymous / learner / other learner / outsider / lead, htmx and plain forms."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cohort.models import (
    Cohort,
    Membership,
    OfficeHoursSession,
    QuestionVote,
    SessionQuestion,
    SessionStatus,
    SessionTopic,
    User,
)
from tests.factories import MembershipFactory, QuestionFactory, SessionFactory, TopicFactory
from tests.helpers import HTMX, cohort_url
from tests.markup import ATTACKS, problems

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("account_login")
MERMAID_JS = "vendor/mermaid-11.17.2.min.js"


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


def _state() -> tuple:
    """Every office-hours row, to show a refused request changed nothing."""
    return (
        list(OfficeHoursSession.objects.order_by("pk").values()),
        list(SessionTopic.objects.order_by("pk").values()),
        list(SessionQuestion.objects.order_by("pk").values()),
        list(QuestionVote.objects.order_by("pk").values()),
    )


def _member_gets(oh: OfficeHours) -> list[str]:
    return [
        cohort_url("sessions", "cohort-a"),
        cohort_url("recaps", "cohort-a"),
        cohort_url("session", "cohort-a", 1),
        cohort_url("question_edit", "cohort-a", 1, oh.alice_question.pk),
    ]


def _lead_gets(oh: OfficeHours) -> list[str]:
    return [
        cohort_url("session_create", "cohort-a"),
        cohort_url("session_series", "cohort-a"),
        cohort_url("session_edit", "cohort-a", 1),
        cohort_url("session_topics", "cohort-a", 1),
        cohort_url("topic_edit", "cohort-a", 1, oh.topic.pk),
        cohort_url("recap_edit", "cohort-a", 1),
    ]


def _lead_posts(oh: OfficeHours) -> list[tuple[str, dict]]:
    starts = {"title": "Hijack", "starts_at": "2030-01-01T10:00", "duration_minutes": "60"}
    return [
        (cohort_url("session_create", "cohort-a"), starts),
        (cohort_url("session_series", "cohort-a"), {**starts, "count": "3"}),
        (cohort_url("session_edit", "cohort-a", 1), starts),
        (cohort_url("session_status", "cohort-a", 1), {"status": "ended"}),
        (cohort_url("session_topics", "cohort-a", 1), {"title": "Injected"}),
        (cohort_url("topic_edit", "cohort-a", 1, oh.topic.pk), {"title": "Renamed"}),
        (cohort_url("topic_delete", "cohort-a", 1, oh.topic.pk), {}),
        (cohort_url("recap_edit", "cohort-a", 1), {"recap_markdown": "Fake", "action": "publish"}),
        (cohort_url("question_answer", "cohort-a", 1, oh.bob_question.pk), {"topic": oh.topic.pk}),
    ]


def _member_posts(oh: OfficeHours) -> list[tuple[str, dict]]:
    return [
        (cohort_url("question_create", "cohort-a", 1), {"body": "Injected question"}),
        (cohort_url("question_vote", "cohort-a", 1, oh.bob_question.pk), {}),
        (cohort_url("question_edit", "cohort-a", 1, oh.alice_question.pk), {"body": "Edited"}),
        (cohort_url("question_delete", "cohort-a", 1, oh.alice_question.pk), {}),
    ]


# --- Who may see and do what --------------------------------------------------------------


def test_anonymous_get_redirects_to_login(oh):
    for url in [*_member_gets(oh), *_lead_gets(oh)]:
        response = Client().get(url)

        assert response.status_code == 302, url
        assert response.url.startswith(f"{LOGIN_URL}?next="), url


def test_anonymous_post_redirects_to_login_and_changes_nothing(oh):
    before = _state()

    for url, data in [*_member_posts(oh), *_lead_posts(oh)]:
        response = Client().post(url, data)

        assert response.status_code == 302, url
        assert response.url.startswith(f"{LOGIN_URL}?next="), url
    assert _state() == before


def test_outsider_gets_404_everywhere_and_changes_nothing(world, oh):
    client = world.client_for(world.outsider)
    before = _state()

    for url in [*_member_gets(oh), *_lead_gets(oh)]:
        assert client.get(url).status_code == 404, url
    for url, data in [*_member_posts(oh), *_lead_posts(oh)]:
        assert client.post(url, data).status_code == 404, url
    assert _state() == before


def test_learner_gets_403_on_lead_pages_and_changes_nothing(world, oh):
    client = world.client_for(world.alice)
    before = _state()

    for url in _lead_gets(oh):
        assert client.get(url).status_code == 403, url
    for url, data in _lead_posts(oh):
        assert client.post(url, data).status_code == 403, url
    assert _state() == before


def test_lead_can_open_every_page(world, oh):
    client = world.client_for(world.lead)
    SessionFactory(cohort=world.cohort, number=2, recap_markdown="Recap", recap_published_at=timezone.now())

    for url in [*_member_gets(oh)[:3], *_lead_gets(oh), cohort_url("recap", "cohort-a", 2)]:
        assert client.get(url).status_code == 200, url


def test_session_of_another_cohort_is_not_found_through_ours(world, oh):
    lead = world.client_for(world.lead)
    alice = world.client_for(world.alice)
    foreign_q = oh.foreign_question.pk
    before = _state()

    assert lead.get(cohort_url("session", "cohort-a", 5)).status_code == 404
    assert lead.get(cohort_url("recap_edit", "cohort-a", 5)).status_code == 404
    assert alice.get(cohort_url("session", "cohort-b", 5)).status_code == 404
    assert alice.post(cohort_url("question_create", "cohort-b", 5), {"body": "Hi"}).status_code == 404
    assert alice.post(cohort_url("question_vote", "cohort-a", 1, foreign_q)).status_code == 404
    assert lead.post(cohort_url("question_answer", "cohort-a", 1, foreign_q)).status_code == 404
    assert lead.post(cohort_url("session_status", "cohort-a", 5), {"status": "ended"}).status_code == 404
    assert _state() == before


def test_editing_or_deleting_someone_elses_question_is_404(world, oh):
    bob = world.client_for(world.bob)
    lead = world.client_for(world.lead)
    before = _state()

    assert bob.get(cohort_url("question_edit", "cohort-a", 1, oh.alice_question.pk)).status_code == 404
    assert bob.post(cohort_url("question_edit", "cohort-a", 1, oh.alice_question.pk), {"body": "x"}).status_code == 404
    assert bob.post(cohort_url("question_delete", "cohort-a", 1, oh.alice_question.pk)).status_code == 404
    assert lead.post(cohort_url("question_delete", "cohort-a", 1, oh.alice_question.pk)).status_code == 404
    assert _state() == before


# --- Sessions list and page ---------------------------------------------------------------


def test_session_list_splits_upcoming_and_past(world, oh):
    past = SessionFactory(
        cohort=world.cohort, number=2, title="Long ago", starts_at=timezone.now() - dt.timedelta(days=9)
    )
    live = SessionFactory(
        cohort=world.cohort, number=3, title="Happening", starts_at=timezone.now() - dt.timedelta(days=1)
    )
    live.status = SessionStatus.LIVE
    live.save(update_fields=["status"])

    response = world.client_for(world.alice).get(cohort_url("sessions", "cohort-a"))

    sessions = response.context["sessions"]
    assert [s.number for s in sessions.upcoming] == [3, 1]
    assert [s.number for s in sessions.past] == [past.number]
    assert "Cohort B only" not in response.content.decode()


def test_session_page_shows_topics_steps_and_questions_by_votes_then_age(world, oh):
    carol = MembershipFactory(cohort=world.cohort)
    QuestionVote.objects.create(question=oh.bob_question, voter=world.alice_membership)
    QuestionVote.objects.create(question=oh.bob_question, voter=carol)

    response = world.client_for(world.alice).get(cohort_url("session", "cohort-a", 1))

    page = response.context["page"]
    assert [q.pk for q in page.open_questions] == [oh.bob_question.pk, oh.alice_question.pk]
    assert [q.vote_count for q in page.open_questions] == [2, 0]
    assert [q.viewer_voted for q in page.open_questions] == [True, False]
    html = response.content.decode()
    assert "GitHub collaboration" in html
    assert cohort_url("step", "cohort-a", "step-1") in html
    assert html.index("Bob asks") < html.index("Alice asks")
    assert 'aria-pressed="true"' in html
    assert "https://meet.example/oh-1" in html


def test_session_page_shows_time_in_viewer_and_cohort_time_zones(world, oh):
    Cohort.objects.filter(pk=world.cohort.pk).update(timezone="Europe/Berlin")
    User.objects.filter(pk=world.alice.pk).update(timezone="America/New_York")

    html = world.client_for(world.alice).get(cohort_url("session", "cohort-a", 1)).content.decode()

    # 17:00 UTC on 13 March 2030: 13:00 in New York (EDT), 18:00 in Berlin (CET).
    assert "Wed 13 Mar 2030, 13:00–14:00 EDT" in html
    assert "18:00 CET cohort time" in html
    assert 'datetime="2030-03-13T17:00:00+00:00"' in html


def test_session_page_shows_only_one_zone_when_viewer_and_cohort_agree(world, oh):
    html = world.client_for(world.alice).get(cohort_url("session", "cohort-a", 1)).content.decode()

    assert "Wed 13 Mar 2030, 17:00–18:00 UTC" in html
    assert "cohort time" not in html


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


def test_answered_question_cannot_be_edited_or_deleted_by_its_author(world, oh):
    world.client_for(world.lead).post(
        cohort_url("question_answer", "cohort-a", 1, oh.alice_question.pk), {"topic": oh.topic.pk}
    )
    client = world.client_for(world.alice)
    before = _state()

    edit = client.post(cohort_url("question_edit", "cohort-a", 1, oh.alice_question.pk), {"body": "Changed"})
    delete = client.post(cohort_url("question_delete", "cohort-a", 1, oh.alice_question.pk), **HTMX)
    page = client.get(cohort_url("session", "cohort-a", 1)).content.decode()

    assert edit.status_code == 400
    assert "answered" in edit.content.decode()
    assert delete.status_code == 400
    assert _state() == before
    assert cohort_url("question_edit", "cohort-a", 1, oh.alice_question.pk) not in page


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


# --- Lead: sessions and topics --------------------------------------------------------------


def test_lead_creates_session_in_cohort_time_zone(world, oh):
    Cohort.objects.filter(pk=world.cohort.pk).update(timezone="Europe/Berlin")
    data = {
        "title": "Session two",
        "starts_at": "2030-07-01T18:30",
        "duration_minutes": "90",
        "leads": [world.lead.pk],
        "meeting_url": "meet.example/two",
    }

    response = world.client_for(world.lead).post(cohort_url("session_create", "cohort-a"), data)

    session = OfficeHoursSession.objects.get(cohort=world.cohort, number=2)
    assert response.status_code == 302
    assert response.url == cohort_url("session_topics", "cohort-a", 2)
    assert session.starts_at == dt.datetime(2030, 7, 1, 16, 30, tzinfo=dt.UTC)  # CEST is UTC+2
    assert session.duration_minutes == 90
    assert session.meeting_url == "https://meet.example/two"
    assert list(session.leads.all()) == [world.lead]


def test_lead_create_session_refuses_a_learner_as_session_lead(world, oh):
    data = {"title": "x", "starts_at": "2030-07-01T18:30", "duration_minutes": "60", "leads": [world.alice.pk]}

    response = world.client_for(world.lead).post(cohort_url("session_create", "cohort-a"), data)

    assert response.status_code == 400
    assert not OfficeHoursSession.objects.filter(number=2).exists()


def test_lead_create_session_refuses_a_time_skipped_by_daylight_saving(world, oh):
    Cohort.objects.filter(pk=world.cohort.pk).update(timezone="Europe/Berlin")
    data = {"title": "x", "starts_at": "2030-03-31T02:30", "duration_minutes": "60"}

    response = world.client_for(world.lead).post(cohort_url("session_create", "cohort-a"), data)

    assert response.status_code == 400
    assert "does not exist" in response.content.decode()


def test_lead_creates_weekly_series(world, oh):
    data = {"title": "Weekly office hours", "starts_at": "2030-04-05T17:00", "count": "4", "duration_minutes": "60"}

    response = world.client_for(world.lead).post(cohort_url("session_series", "cohort-a"), data)

    sessions = list(OfficeHoursSession.objects.filter(cohort=world.cohort, number__gt=1).order_by("number"))
    assert response.status_code == 302
    assert [s.number for s in sessions] == [2, 3, 4, 5]
    assert {s.starts_at - sessions[0].starts_at for s in sessions} == {dt.timedelta(weeks=w) for w in range(4)}


def test_lead_edits_session_and_rescheduling_bumps_sequence(world, oh):
    data = {"title": "Moved", "starts_at": "2030-03-14T17:00", "duration_minutes": "60", "leads": [world.lead.pk]}
    client = world.client_for(world.lead)

    form = client.get(cohort_url("session_edit", "cohort-a", 1))
    response = client.post(cohort_url("session_edit", "cohort-a", 1), data)

    assert 'value="2030-03-13T17:00"' in form.content.decode()
    assert response.status_code == 302
    oh.session.refresh_from_db()
    assert (oh.session.title, oh.session.sequence) == ("Moved", 1)
    assert oh.session.starts_at == dt.datetime(2030, 3, 14, 17, 0, tzinfo=dt.UTC)


def test_lead_changes_status(world, oh):
    response = world.client_for(world.lead).post(cohort_url("session_status", "cohort-a", 1), {"status": "live"})

    assert response.status_code == 302
    assert OfficeHoursSession.objects.get(pk=oh.session.pk).status == SessionStatus.LIVE


def test_lead_adds_edits_and_removes_topics(world, oh):
    client = world.client_for(world.lead)

    client.post(
        cohort_url("session_topics", "cohort-a", 1), {"title": "Unsloth", "step": world.steps[2].pk, "notes": "x"}
    )
    client.post(cohort_url("topic_edit", "cohort-a", 1, oh.topic.pk), {"title": "Git", "step": "", "notes": ""})
    client.post(cohort_url("topic_delete", "cohort-a", 1, oh.topic.pk))

    topics = list(oh.session.topics.order_by("position").values_list("position", "title", "step"))
    assert topics == [(1, "Cohort learning", None), (2, "Unsloth", world.steps[2].pk)]


def test_lead_topic_step_must_belong_to_the_cohort(world, oh):
    foreign_step = Cohort.objects.get(slug="cohort-b").steps.create(position=1, code="S1", slug="s1", title="Foreign")

    response = world.client_for(world.lead).post(
        cohort_url("session_topics", "cohort-a", 1), {"title": "x", "step": foreign_step.pk}
    )

    assert response.status_code == 400
    assert not SessionTopic.objects.filter(title="x").exists()


# --- Recaps -----------------------------------------------------------------------------------

RECAP = """Intro paragraph.

```mermaid
flowchart LR
    A["Draft model"] --> B["Target model"]
```

```python
def add(a, b):
    return a + b
```
"""


def test_lead_saves_draft_then_publishes_recap(world, oh):
    client = world.client_for(world.lead)
    url = cohort_url("recap_edit", "cohort-a", 1)

    client.post(url, {"recap_markdown": RECAP, "action": "save"})
    learner_before = world.client_for(world.alice).get(cohort_url("recap", "cohort-a", 1)).status_code
    lead_preview = client.get(cohort_url("recap", "cohort-a", 1))
    client.post(url, {"recap_markdown": RECAP, "action": "publish"})
    learner_after = world.client_for(world.alice).get(cohort_url("recap", "cohort-a", 1))

    assert learner_before == 404
    assert lead_preview.status_code == 200
    assert "Draft" in lead_preview.content.decode()
    assert learner_after.status_code == 200
    oh.session.refresh_from_db()
    assert oh.session.recap_is_published


def test_lead_unpublishes_recap(world, oh):
    OfficeHoursSession.objects.filter(pk=oh.session.pk).update(recap_markdown=RECAP, recap_published_at=timezone.now())

    world.client_for(world.lead).post(
        cohort_url("recap_edit", "cohort-a", 1), {"recap_markdown": RECAP, "action": "unpublish"}
    )

    assert world.client_for(world.alice).get(cohort_url("recap", "cohort-a", 1)).status_code == 404


def test_recap_page_draws_diagrams_highlights_code_and_lists_topics_with_answers(world, oh):
    OfficeHoursSession.objects.filter(pk=oh.session.pk).update(recap_markdown=RECAP, recap_published_at=timezone.now())
    world.client_for(world.lead).post(
        cohort_url("question_answer", "cohort-a", 1, oh.bob_question.pk), {"topic": oh.topic.pk}
    )

    html = world.client_for(world.alice).get(cohort_url("recap", "cohort-a", 1)).content.decode()

    assert '<pre class="mermaid">flowchart LR' in html
    assert '<span class="k">def</span>' in html
    assert MERMAID_JS in html
    assert "css/codehilite.css" in html
    covered = html.split('id="covered-heading"', 1)[1]
    assert covered.index("GitHub collaboration") < covered.index("Bob asks") < covered.index("Cohort learning")
    assert "Step 1" in covered


def test_mermaid_loads_only_on_pages_showing_a_recap_with_a_diagram(world, oh):
    client = world.client_for(world.alice)
    no_recap = client.get(cohort_url("session", "cohort-a", 1)).content.decode()
    OfficeHoursSession.objects.filter(pk=oh.session.pk).update(recap_markdown=RECAP, recap_published_at=timezone.now())
    SessionFactory(cohort=world.cohort, number=2, recap_markdown="No diagram here.", recap_published_at=timezone.now())

    session_page = client.get(cohort_url("session", "cohort-a", 1)).content.decode()
    plain_recap = client.get(cohort_url("recap", "cohort-a", 2)).content.decode()
    dashboard = client.get(cohort_url("dashboard", "cohort-a")).content.decode()
    recap_list = client.get(cohort_url("recaps", "cohort-a")).content.decode()

    assert MERMAID_JS in session_page
    assert all(MERMAID_JS not in page for page in [no_recap, plain_recap, dashboard, recap_list])


def test_recap_page_renders_hostile_recap_inert(world, oh):
    hostile = "\n\n".join([*ATTACKS.values(), '```mermaid\ngraph TD\n  A["</pre><script>alert(1)</script>"]\n```'])
    OfficeHoursSession.objects.filter(pk=oh.session.pk).update(
        recap_markdown=hostile, recap_published_at=timezone.now()
    )

    html = world.client_for(world.alice).get(cohort_url("recap", "cohort-a", 1)).content.decode()

    article = html.split('<article class="prose recap">', 1)[1].split("</article>", 1)[0]
    assert problems(article) == []
    assert "xss-script" not in html
    assert '<pre class="mermaid">' in article


def test_question_bodies_render_inert(world, oh):
    oh.bob_question.body = ATTACKS["img onerror"] + ATTACKS["html javascript link"]
    oh.bob_question.save(update_fields=["body"])  # renders and stores the HTML, as every write does

    html = world.client_for(world.alice).get(cohort_url("session", "cohort-a", 1)).content.decode()

    item = html.split(f'id="question-{oh.bob_question.pk}"', 1)[1]
    body = item.split('<div class="question-body prose compact">', 1)[1].split("</div>", 1)[0]
    assert "<img" in body
    assert problems(body) == []


def test_recap_list_filters_by_step_and_search(world, oh):
    published = timezone.now()
    OfficeHoursSession.objects.filter(pk=oh.session.pk).update(recap_markdown="Git talk", recap_published_at=published)
    second = SessionFactory(
        cohort=world.cohort, number=2, title="Inference", recap_markdown="Temperature", recap_published_at=published
    )
    TopicFactory(session=second, position=1, title="Sampling", step=world.steps[1])
    TopicFactory(session=second, position=2, title="More git", step=world.steps[0])
    SessionFactory(cohort=world.cohort, number=3, title="Unpublished", recap_markdown="Temperature")
    client = world.client_for(world.alice)

    def numbers(**params: str) -> list[int]:
        return [s.number for s in client.get(cohort_url("recaps", "cohort-a"), params).context["recaps"]]

    assert numbers() == [1, 2]  # latest session first: session 1 is in 2030
    assert sorted(numbers(step="step-1")) == [1, 2]
    assert numbers(step="step-2") == [2]
    assert numbers(step="step-3") == []
    assert numbers(q="temperature") == [2]
    page = client.get(cohort_url("recaps", "cohort-a")).content.decode()
    assert 'value="step-1"' in page and 'value="step-3"' not in page


# --- Other pages' office-hours parts ------------------------------------------------------------


def test_step_page_lists_topics_that_covered_it(world, oh):
    html = world.client_for(world.alice).get(cohort_url("step", "cohort-a", "step-1")).content.decode()
    other_step = world.client_for(world.alice).get(cohort_url("step", "cohort-a", "step-3")).content.decode()

    assert "Covered in office hours" in html
    assert cohort_url("session", "cohort-a", 1) + "#topic-1" in html
    assert "GitHub collaboration" in html
    assert "Covered in office hours" not in other_step


def test_dashboard_panel_shows_next_session_and_latest_recap(world, oh):
    SessionFactory(
        cohort=world.cohort,
        number=2,
        title="Old one",
        starts_at=timezone.now() - dt.timedelta(days=30),
        status=SessionStatus.ENDED,
        recap_markdown="r",
        recap_published_at=timezone.now(),
    )

    html = world.client_for(world.alice).get(cohort_url("dashboard", "cohort-a")).content.decode()

    panel = html.split('id="office-hours-panel"', 1)[1].split("</article>", 1)[0]
    assert "Session 1: Git and Qwen3" in panel
    assert "Latest recap" in panel and "Session 2: Old one" in panel
    assert cohort_url("sessions", "cohort-a") in panel


def test_dashboard_panel_without_sessions_says_so(world):
    html = world.client_for(world.alice).get(cohort_url("dashboard", "cohort-a")).content.decode()

    assert "No session is scheduled yet." in html


def test_lead_nav_links_to_office_hours(world, oh):
    html = world.client_for(world.lead).get(cohort_url("lead_overview", "cohort-a")).content.decode()

    assert cohort_url("sessions", "cohort-a") in html
    assert cohort_url("session_create", "cohort-a") in html
