"""Office-hours pages: who may see and do what, the sessions list and page, the lead session and topic forms."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cohort.models import (
    Cohort,
    OfficeHoursSession,
    QuestionVote,
    SessionQuestion,
    SessionStatus,
    SessionTopic,
    User,
)
from tests.cohort.office_hours.conftest import OfficeHours
from tests.factories import MembershipFactory, SessionFactory
from tests.helpers import HTMX, cohort_url

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("account_login")


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
