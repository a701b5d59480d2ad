"""Office hours: the rules in cohort/office_hours/services.py, recap Markdown (diagrams, sanitizing) and the demo seed."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from cohort.markdown import has_mermaid, render_markdown
from cohort.models import (
    Membership,
    OfficeHoursSession,
    QuestionVote,
    Role,
    SessionQuestion,
    SessionStatus,
    SessionTopic,
)
from cohort.office_hours import services
from tests.factories import CohortFactory, QuestionFactory, SessionFactory, StepFactory, TopicFactory
from tests.markup import ATTACKS, problems

pytestmark = pytest.mark.django_db


def lead_membership(world) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.get(cohort=world.cohort, user=world.lead)


# --- Sessions ---------------------------------------------------------------------------


def test_session_create_takes_next_number_per_cohort(world):
    other = SessionFactory(cohort=CohortFactory(), number=7)
    starts = dt.datetime(2026, 3, 13, 17, 0, tzinfo=dt.UTC)

    first = services.session_create(
        cohort=world.cohort, title=" Office hours ", starts_at=starts, duration_minutes=60, leads=[world.lead]
    )
    second = services.session_create(cohort=world.cohort, title="Next", starts_at=starts, duration_minutes=45)

    assert (first.number, second.number) == (1, 2)
    assert first.title == "Office hours"
    assert list(first.leads.all()) == [world.lead]
    assert first.sequence == 0
    assert first.status == SessionStatus.SCHEDULED
    assert OfficeHoursSession.objects.get(pk=other.pk).number == 7


def test_session_create_refuses_a_learner_as_session_lead(world):
    with pytest.raises(services.OfficeHoursError, match="leads or mentors"):
        services.session_create(
            cohort=world.cohort, title="x", starts_at=timezone.now(), duration_minutes=60, leads=[world.alice]
        )

    assert not OfficeHoursSession.objects.exists()


def test_session_create_series_is_weekly_and_numbered_on(world):
    SessionFactory(cohort=world.cohort, number=1)
    first = dt.datetime(2026, 4, 10, 16, 0, tzinfo=dt.UTC)

    sessions = services.session_create_series(
        cohort=world.cohort, title="Weekly", first_starts_at=first, count=4, duration_minutes=60, leads=[world.lead]
    )

    assert [s.number for s in sessions] == [2, 3, 4, 5]
    assert [s.starts_at for s in sessions] == [first + dt.timedelta(weeks=w) for w in range(4)]
    assert all(list(s.leads.all()) == [world.lead] for s in sessions)
    assert OfficeHoursSession.objects.filter(cohort=world.cohort).count() == 5


def test_session_create_series_keeps_the_cohort_wall_clock_across_daylight_saving(world):
    world.cohort.timezone = "Europe/London"
    world.cohort.save(update_fields=["timezone"])
    # 17:00 in London is 17:00 UTC in March and 16:00 UTC after the clocks go forward on 29 March 2026.
    first = dt.datetime(2026, 3, 20, 17, 0, tzinfo=dt.UTC)

    sessions = services.session_create_series(
        cohort=world.cohort, title="Weekly", first_starts_at=first, count=3, duration_minutes=60
    )

    assert [s.starts_at.astimezone(dt.UTC).hour for s in sessions] == [17, 17, 16]


@pytest.mark.parametrize("count", [0, services.SERIES_MAX_SESSIONS + 1])
def test_session_create_series_refuses_counts_out_of_range(world, count):
    with pytest.raises(services.OfficeHoursError):
        services.session_create_series(
            cohort=world.cohort, title="x", first_starts_at=timezone.now(), count=count, duration_minutes=60
        )

    assert not OfficeHoursSession.objects.exists()


def test_session_update_bumps_sequence_only_when_rescheduled(world):
    session = SessionFactory(cohort=world.cohort)
    details = {"leads": [world.lead], "meeting_url": "https://meet.example/oh"}

    services.session_update(
        session=session, title="Renamed", starts_at=session.starts_at, duration_minutes=60, **details
    )
    after_rename = OfficeHoursSession.objects.get(pk=session.pk).sequence
    services.session_update(
        session=session,
        title="Renamed",
        starts_at=session.starts_at + dt.timedelta(hours=1),
        duration_minutes=60,
        **details,
    )
    services.session_update(
        session=session, title="Renamed", starts_at=session.starts_at, duration_minutes=90, **details
    )

    session.refresh_from_db()
    assert after_rename == 0
    assert session.sequence == 2
    assert session.meeting_url == "https://meet.example/oh"
    assert list(session.leads.all()) == [world.lead]


def test_session_set_status_changes_status_and_refuses_unknown(world):
    session = SessionFactory(cohort=world.cohort)

    services.session_set_status(session=session, status=SessionStatus.LIVE)
    with pytest.raises(services.OfficeHoursError):
        services.session_set_status(session=session, status="cancelled")

    assert OfficeHoursSession.objects.get(pk=session.pk).status == SessionStatus.LIVE


# --- Topics -----------------------------------------------------------------------------


def test_topic_create_appends_and_links_a_step(world):
    session = SessionFactory(cohort=world.cohort)

    one = services.topic_create(session=session, title="Git", step=world.steps[0], notes="**PRs**")
    two = services.topic_create(session=session, title="Cohorts")

    assert (one.position, two.position) == (1, 2)
    assert one.step == world.steps[0]
    assert two.step is None


def test_topic_create_refuses_a_step_of_another_cohort(world):
    session = SessionFactory(cohort=world.cohort)
    foreign_step = StepFactory(cohort=CohortFactory())

    with pytest.raises(services.OfficeHoursError, match="another cohort"):
        services.topic_create(session=session, title="x", step=foreign_step)

    assert not SessionTopic.objects.exists()


def test_topic_delete_closes_the_gap_and_answered_questions_stay_answered(world):
    session = SessionFactory(cohort=world.cohort)
    topics = [services.topic_create(session=session, title=f"T{i}") for i in (1, 2, 3)]
    question = QuestionFactory(session=session, author=world.alice_membership)
    services.question_mark_answered(question=question, topic=topics[1])

    services.topic_delete(topic=topics[1])

    assert list(session.topics.order_by("position").values_list("title", "position")) == [("T1", 1), ("T3", 2)]
    question.refresh_from_db()
    assert question.is_answered
    assert question.answered_topic is None


# --- Questions --------------------------------------------------------------------------


def test_question_post_stores_stripped_body_and_counts_as_activity(world):
    session = SessionFactory(cohort=world.cohort)

    question = services.question_post(session=session, author=world.alice_membership, body="  Why merge?  \n")

    assert question.body == "Why merge?"
    assert question.author == world.alice_membership
    world.alice_membership.refresh_from_db()
    assert world.alice_membership.last_activity_at == question.created_at


@pytest.mark.parametrize("body", ["", "   \n  ", "x" * 2001], ids=["empty", "blank", "2001-chars"])
def test_question_post_refuses_empty_or_oversized(world, body):
    session = SessionFactory(cohort=world.cohort)

    with pytest.raises(services.OfficeHoursError):
        services.question_post(session=session, author=world.alice_membership, body=body)

    assert not SessionQuestion.objects.exists()


def test_question_post_accepts_exactly_2000_characters(world):
    session = SessionFactory(cohort=world.cohort)

    question = services.question_post(session=session, author=world.alice_membership, body="x" * 2000)

    assert len(question.body) == 2000


def test_question_post_refuses_an_ended_session(world):
    session = SessionFactory(cohort=world.cohort, status=SessionStatus.ENDED)

    with pytest.raises(services.OfficeHoursError, match="ended"):
        services.question_post(session=session, author=world.alice_membership, body="Late?")

    assert not SessionQuestion.objects.exists()


def test_question_post_refuses_a_member_of_another_cohort(world):
    session = SessionFactory(cohort=world.cohort)
    outsider = Membership.objects.get(user=world.outsider)

    with pytest.raises(PermissionDenied):
        services.question_post(session=session, author=outsider, body="Let me in?")

    assert not SessionQuestion.objects.exists()


def test_question_upvote_twice_counts_once(world):
    question = QuestionFactory(session=SessionFactory(cohort=world.cohort), author=world.alice_membership)

    first = services.question_upvote(question=question, voter=world.bob_membership)
    second = services.question_upvote(question=question, voter=world.bob_membership)

    assert (first, second) == (True, False)
    assert QuestionVote.objects.filter(question=question).count() == 1


def test_question_withdraw_vote_removes_only_the_voters_vote(world):
    question = QuestionFactory(session=SessionFactory(cohort=world.cohort), author=world.alice_membership)
    lead = lead_membership(world)
    services.question_upvote(question=question, voter=world.bob_membership)
    services.question_upvote(question=question, voter=lead)

    withdrawn = services.question_withdraw_vote(question=question, voter=world.bob_membership)
    again = services.question_withdraw_vote(question=question, voter=world.bob_membership)

    assert (withdrawn, again) == (True, False)
    assert list(QuestionVote.objects.values_list("voter", flat=True)) == [lead.pk]


def test_question_upvote_own_question_is_refused(world):
    question = QuestionFactory(session=SessionFactory(cohort=world.cohort), author=world.alice_membership)

    with pytest.raises(services.OfficeHoursError, match="own question"):
        services.question_upvote(question=question, voter=world.alice_membership)

    assert not QuestionVote.objects.exists()


def test_question_upvote_from_another_cohort_is_refused(world):
    question = QuestionFactory(session=SessionFactory(cohort=world.cohort), author=world.alice_membership)

    with pytest.raises(PermissionDenied):
        services.question_upvote(question=question, voter=Membership.objects.get(user=world.outsider))

    assert not QuestionVote.objects.exists()


def test_question_edit_by_author_updates_body_and_marks_edited(world):
    question = QuestionFactory(session=SessionFactory(cohort=world.cohort), author=world.alice_membership)

    services.question_edit(question=question, author=world.alice_membership, body="Better wording?")

    question.refresh_from_db()
    assert question.body == "Better wording?"
    assert question.edited_at is not None


def test_question_edit_or_delete_by_someone_else_is_refused(world):
    question = QuestionFactory(session=SessionFactory(cohort=world.cohort), author=world.alice_membership, body="Mine")

    with pytest.raises(PermissionDenied):
        services.question_edit(question=question, author=world.bob_membership, body="Hijacked")
    with pytest.raises(PermissionDenied):
        services.question_delete(question=question, author=world.bob_membership)

    question.refresh_from_db()
    assert question.body == "Mine"


def test_question_delete_by_author_removes_it_and_its_votes(world):
    question = QuestionFactory(session=SessionFactory(cohort=world.cohort), author=world.alice_membership)
    services.question_upvote(question=question, voter=world.bob_membership)

    services.question_delete(question=question, author=world.alice_membership)

    assert not SessionQuestion.objects.exists()
    assert not QuestionVote.objects.exists()


def test_answered_question_is_locked_for_edit_delete_and_votes(world):
    session = SessionFactory(cohort=world.cohort)
    topic = TopicFactory(session=session)
    question = QuestionFactory(session=session, author=world.alice_membership, body="Original")
    services.question_upvote(question=question, voter=world.bob_membership)
    services.question_mark_answered(question=question, topic=topic)

    attempts = [
        lambda: services.question_edit(question=question, author=world.alice_membership, body="Changed"),
        lambda: services.question_delete(question=question, author=world.alice_membership),
        lambda: services.question_withdraw_vote(question=question, voter=world.bob_membership),
        lambda: services.question_upvote(question=question, voter=lead_membership(world)),
    ]
    for attempt in attempts:
        with pytest.raises(services.OfficeHoursError, match="answered"):
            attempt()

    question.refresh_from_db()
    assert question.body == "Original"
    assert question.answered_topic == topic
    assert QuestionVote.objects.filter(question=question).count() == 1


def test_question_mark_answered_refuses_a_topic_of_another_session(world):
    question = QuestionFactory(session=SessionFactory(cohort=world.cohort), author=world.alice_membership)
    other_topic = TopicFactory(session=SessionFactory(cohort=world.cohort))

    with pytest.raises(services.OfficeHoursError, match="another session"):
        services.question_mark_answered(question=question, topic=other_topic)

    question.refresh_from_db()
    assert not question.is_answered


def test_question_reopen_lets_the_author_edit_again(world):
    session = SessionFactory(cohort=world.cohort)
    question = QuestionFactory(session=session, author=world.alice_membership)
    services.question_mark_answered(question=question, topic=TopicFactory(session=session))

    services.question_reopen(question=question)
    services.question_edit(question=question, author=world.alice_membership, body="Follow-up")

    question.refresh_from_db()
    assert (question.answered_at, question.answered_topic, question.body) == (None, None, "Follow-up")


# --- Recap ------------------------------------------------------------------------------


def test_recap_save_draft_then_publish_then_fix_keeps_first_publication(world):
    session = SessionFactory(cohort=world.cohort)
    published_at = dt.datetime(2026, 3, 13, 20, 0, tzinfo=dt.UTC)

    services.recap_save(session=session, recap_markdown="Draft")
    draft_published = OfficeHoursSession.objects.get(pk=session.pk).recap_published_at
    services.recap_save(session=session, recap_markdown="Final", publish=True, at=published_at)
    services.recap_save(session=session, recap_markdown="Final, typo fixed")

    session.refresh_from_db()
    assert draft_published is None
    assert session.recap_markdown == "Final, typo fixed"
    assert session.recap_published_at == published_at


def test_recap_save_unpublish_hides_it(world):
    session = SessionFactory(cohort=world.cohort, recap_markdown="x", recap_published_at=timezone.now())

    services.recap_save(session=session, recap_markdown="x", publish=False)

    assert OfficeHoursSession.objects.get(pk=session.pk).recap_published_at is None


def test_recap_save_refuses_to_publish_an_empty_recap(world):
    session = SessionFactory(cohort=world.cohort)

    with pytest.raises(services.OfficeHoursError):
        services.recap_save(session=session, recap_markdown="   ", publish=True)

    assert OfficeHoursSession.objects.get(pk=session.pk).recap_published_at is None


# --- Recap Markdown: diagrams and sanitizing ----------------------------------------------

DIAGRAM = """```mermaid
flowchart TD
    A["Create a branch<br>git checkout -b x"] --> B{Approved?}
    B -- Yes --> C["Merge"]
```"""

DIAGRAM_ATTACKS = {
    "closing pre then script": '```mermaid\ngraph TD\n  A["</pre><script>alert(1)</script>"] --> B\n```',
    "img onerror label": '```mermaid\ngraph TD\n  A["<img src=x onerror=alert(1)>"] --> B\n```',
    "javascript click": '```mermaid\ngraph TD\n  A --> B\n  click A "javascript:alert(1)"\n```',
    "raw pre mermaid with handler": '<pre class="mermaid" onclick="alert(1)">graph TD; A-->B</pre>',
}


def test_render_markdown_turns_a_mermaid_fence_into_pre_mermaid():
    html = render_markdown(DIAGRAM, diagrams=True)

    assert html.startswith('<pre class="mermaid">flowchart TD')
    assert 'A["Create a branch&lt;br&gt;git checkout -b x"] --&gt; B{Approved?}' in html
    assert "codehilite" not in html


def test_render_markdown_keeps_tilde_mermaid_fences_and_other_code_highlighted():
    html = render_markdown("~~~mermaid\ngraph LR\n  a --> b\n~~~\n\n```python\nx = 1\n```", diagrams=True)

    assert '<pre class="mermaid">graph LR\n  a --&gt; b\n</pre>' in html
    assert '<div class="codehilite">' in html


def test_render_markdown_mermaid_example_inside_another_fence_stays_code():
    html = render_markdown("````markdown\n```mermaid\ngraph LR; a-->b\n```\n````", diagrams=True)

    assert 'class="mermaid"' not in html
    assert '<div class="codehilite">' in html


@pytest.mark.parametrize("source", [*ATTACKS.values(), *DIAGRAM_ATTACKS.values()], ids=[*ATTACKS, *DIAGRAM_ATTACKS])
def test_recap_markdown_is_inert_with_diagrams_around(source):
    html = render_markdown(f"{DIAGRAM}\n\n{source}\n\n{DIAGRAM}", diagrams=True)

    assert problems(html) == []
    assert html.count('<pre class="mermaid">') >= 2


def test_recap_markdown_diagram_text_cannot_break_out_of_its_block():
    html = render_markdown(DIAGRAM_ATTACKS["closing pre then script"], diagrams=True)

    assert "<script" not in html
    assert "&lt;/pre&gt;&lt;script&gt;" in html


def test_has_mermaid_spots_diagram_fences_only():
    assert has_mermaid(DIAGRAM)
    assert has_mermaid("text\n~~~ mermaid\ngraph LR\n~~~")
    assert not has_mermaid("I like mermaid diagrams\n```python\nmermaid = 1\n```")
    assert not has_mermaid("")


# --- Demo seed --------------------------------------------------------------------------


def _seed() -> None:
    with override_settings(DEBUG=True):
        call_command("seed_demo", stdout=io.StringIO())


def test_seed_demo_adds_session_1_with_its_four_topics():
    _seed()

    session = OfficeHoursSession.objects.get(cohort__slug="cohort-1", number=1)
    topics = list(session.topics.order_by("position").select_related("step"))
    assert session.starts_at == dt.datetime(2026, 3, 13, 17, 0, tzinfo=dt.UTC)
    assert session.status == SessionStatus.ENDED
    assert [t.position for t in topics] == [1, 2, 3, 4]
    assert [t.step.slug if t.step else None for t in topics] == [
        "github-collaboration",
        "run-qwen3-locally",
        None,
        "project-watch-unsloth",
    ]
    assert [u.email for u in session.leads.all()] == ["lead@example.com"]


def test_seed_demo_recap_is_published_with_two_diagrams_and_highlighted_code():
    _seed()

    session = OfficeHoursSession.objects.get(cohort__slug="cohort-1", number=1)
    html = session.recap_html  # rendered once when the seed saved it
    assert session.recap_is_published
    assert html.count('<pre class="mermaid">') == 2
    assert "flowchart TD" in html and "flowchart LR" in html
    assert '<div class="codehilite">' in html
    assert "151,936" in html


def test_seed_demo_questions_come_from_learners_one_answered_under_topic_2():
    _seed()

    questions = list(SessionQuestion.objects.filter(session__number=1).select_related("author", "answered_topic"))
    assert len(questions) >= 2
    assert {q.author.role for q in questions} == {Role.LEARNER}
    answered = [q for q in questions if q.is_answered]
    assert [q.answered_topic.position for q in answered] == [2]
    assert QuestionVote.objects.filter(question__in=questions).exists()
