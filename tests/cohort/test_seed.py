"""`manage.py seed_demo`: the demo cohort from the spec, identical on every run, never in production."""

from __future__ import annotations

import io

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse

from cohort.demo.roadmap import DEMO_PASSWORD
from cohort.models import Cohort, Membership, ProgressStatus, RoadmapStep, Role, User
from cohort.selectors import roadmap_for

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = io.StringIO()
    with override_settings(DEBUG=True):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def _snapshot() -> dict[str, list[dict]]:
    # The command also seeds the exercises app, so its tables are compared too.
    models = [*apps.get_app_config("cohort").get_models(), *apps.get_app_config("exercises").get_models(), EmailAddress]
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in models}


def test_seed_demo_twice_leaves_identical_rows():
    _seed()
    before = _snapshot()
    passwords_before = dict(User.objects.values_list("email", "password"))

    _seed()

    assert _snapshot() == before
    assert dict(User.objects.values_list("email", "password")) == passwords_before
    seeded = ["cohort.User", "cohort.Cohort", "cohort.Membership", "cohort.RoadmapStep", "cohort.StepResource"]
    assert all(before[label] for label in [*seeded, "cohort.StepProgress", "account.EmailAddress"])


def test_seed_demo_refuses_without_debug():
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=io.StringIO())

    assert not Cohort.objects.exists()
    assert not User.objects.exists()


def test_seed_demo_creates_cohort_from_spec():
    _seed()

    cohort = Cohort.objects.get(slug="cohort-1")
    assert cohort.practice_repository == "first-break-ai/cohort-1-practice"
    assert cohort.invites_open


def test_seed_demo_creates_lead_and_three_learners_with_github_usernames():
    _seed()

    members = {m.user.email: m for m in Membership.objects.filter(cohort__slug="cohort-1").select_related("user")}
    assert members["lead@example.com"].role == Role.LEAD
    learners = {email: members[email].user.github_username for email in members if members[email].role == Role.LEARNER}
    assert learners == {
        "learner1@example.com": "demo-learner-1",
        "learner2@example.com": "demo-learner-2",
        "learner3@example.com": "demo-learner-3",
    }


def test_seed_demo_creates_five_steps_ending_with_project_watch():
    _seed()

    steps = list(RoadmapStep.objects.filter(cohort__slug="cohort-1").order_by("position"))
    assert [s.code for s in steps] == ["Step 1", "Step 2", "Step 3", "Step 4", "Project Watch"]
    assert [s.position for s in steps] == [1, 2, 3, 4, 5]
    assert "Project Watch" in steps[4].title


def test_seed_demo_progress_shows_a_cohort_in_motion():
    _seed()

    def statuses(email: str) -> list[str]:
        membership = Membership.objects.get(user__email=email, cohort__slug="cohort-1")
        return [s.status for s in roadmap_for(membership=membership).steps][:3]

    assert statuses("learner1@example.com") == [
        ProgressStatus.DONE,
        ProgressStatus.IN_PROGRESS,
        ProgressStatus.NOT_STARTED,
    ]
    assert statuses("learner2@example.com")[0] == ProgressStatus.IN_PROGRESS
    assert set(statuses("learner3@example.com")) == {ProgressStatus.NOT_STARTED}


@pytest.mark.parametrize("email", ["lead@example.com", "learner1@example.com"])
def test_seed_demo_logins_work_with_published_password(email):
    output = _seed()
    client = Client()

    response = client.post(reverse("account_login"), {"login": email, "password": DEMO_PASSWORD})

    assert email in output
    assert response.status_code == 302
    assert client.get(reverse("cohort:dashboard", args=["cohort-1"])).status_code == 200


def test_seed_demo_restores_changed_demo_data():
    _seed()
    lead = User.objects.get(email="lead@example.com")
    lead.set_password("something-else")
    lead.save(update_fields=["password"])
    RoadmapStep.objects.filter(cohort__slug="cohort-1", position=5).update(title="Edited")

    _seed()

    assert User.objects.get(email="lead@example.com").check_password(DEMO_PASSWORD)
    assert RoadmapStep.objects.get(cohort__slug="cohort-1", position=5).title == "Project Watch: Unsloth"


def test_seed_demo_gives_the_lead_pages_someone_stuck_and_an_upcoming_session():
    from django.utils import timezone

    from cohort.models import CheckIn, OfficeHoursSession, SessionAttendance, SessionStatus

    _seed()

    bruno_blocker = CheckIn.objects.get(membership__user__email="learner2@example.com")
    assert bruno_blocker.is_open_blocker and bruno_blocker.leads_notified_at is not None
    attended = set(
        SessionAttendance.objects.filter(session__number=1).values_list("membership__user__email", flat=True)
    )
    assert attended == {"learner1@example.com", "learner2@example.com"}
    upcoming = OfficeHoursSession.objects.get(cohort__slug="cohort-1", number=2)
    assert upcoming.status == SessionStatus.SCHEDULED and upcoming.starts_at > timezone.now()
    assert upcoming.topics.count() == 3 and upcoming.questions.count() == 1

    lead = Client()
    lead.force_login(User.objects.get(email="lead@example.com"))
    page = lead.get(reverse("cohort:lead_stuck", args=["cohort-1"])).content.decode()
    assert "Bruno Silva" in page and "conflict markers" in page


def test_seed_demo_activity_is_placed_relative_to_today():
    import datetime as dt

    from django.utils import timezone

    from cohort.models import CheckIn, OfficeHoursSession
    from exercises.models import Submission, SubmissionState

    _seed()
    now = timezone.now()

    members = {m.user.email: m for m in Membership.objects.filter(cohort__slug="cohort-1").select_related("user")}
    amara, bruno, chen = (members[f"learner{i}@example.com"] for i in (1, 2, 3))
    assert now - amara.last_activity_at < dt.timedelta(days=2)
    assert now - bruno.last_activity_at < dt.timedelta(days=3)
    assert dt.timedelta(days=7) < now - chen.last_activity_at < dt.timedelta(days=10)
    blocker = CheckIn.objects.get(membership=bruno)
    assert blocker.is_open_blocker and now - blocker.created_at < dt.timedelta(days=3)
    waiting = Submission.objects.get(membership=bruno)
    assert waiting.state == SubmissionState.OPEN and waiting.first_review_at is None
    assert dt.timedelta(days=4) < now - waiting.opened_at < dt.timedelta(days=6)
    # The program's first session keeps its date: it is history.
    first = OfficeHoursSession.objects.get(cohort__slug="cohort-1", number=1)
    assert first.starts_at == dt.datetime(2026, 3, 13, 17, 0, tzinfo=dt.UTC)
    assert Cohort.objects.get(slug="cohort-1").ends_on > timezone.localdate()

    lead = Client()
    lead.force_login(User.objects.get(email="lead@example.com"))
    home = lead.get("/").context["home"]
    assert home.reviews.oldest == waiting
    assert home.stuck[0].membership == bruno
    assert home.session.session.number == 2 and home.session.rsvps == 2
    stuck = lead.get(reverse("cohort:lead_stuck", args=["cohort-1"])).context["stuck"]
    assert stuck.summary.blocked == 1 and stuck.summary.stalled == 1 and stuck.summary.inactive == 1


def test_seed_demo_rerun_on_a_later_day_moves_activity_not_duplicates():
    import datetime as dt

    from django.utils import timezone

    from cohort.demo.activity import seed_office_hours_activity
    from cohort.models import CheckIn, OfficeHoursSession, SessionStatus
    from exercises.models import Submission, TimelineEvent

    _seed()
    cohort = Cohort.objects.get(slug="cohort-1")
    first = OfficeHoursSession.objects.get(cohort=cohort, number=1)
    check_ins, submissions, events = CheckIn.objects.count(), Submission.objects.count(), TimelineEvent.objects.count()
    later = timezone.now() + dt.timedelta(days=30)

    upcoming = seed_office_hours_activity(cohort, first, now=later)

    assert (CheckIn.objects.count(), Submission.objects.count(), TimelineEvent.objects.count()) == (
        check_ins,
        submissions,
        events,
    )
    bruno = CheckIn.objects.get(membership__user__email="learner2@example.com")
    assert later - dt.timedelta(days=3) < bruno.created_at < later
    # Session 2 had passed without being held: it moves to the coming Friday.
    assert upcoming.status == SessionStatus.SCHEDULED and upcoming.starts_at > later
    assert OfficeHoursSession.objects.get(pk=first.pk).starts_at == first.starts_at
