"""The lead home at `/` and the per-learner page: who sees them, what they show, and their query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse
from django.utils import timezone

from cohort.models import (
    CheckIn,
    CheckInStatus,
    HelpRequest,
    HelpRequestStatus,
    Membership,
    OfficeHoursSession,
    Role,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
    User,
)
from exercises.models import Exercise, ExerciseCompletion, ExerciseKind, Submission, SubmissionState, TimelineEvent
from inference.models import LabJob, LabKind, RunStatus, SandboxModel, SandboxRun
from tests.cohort.busy_cohort import SIZES
from tests.cohort.busy_cohort import seed_busy_cohort as seed_cohort
from tests.factories import CohortFactory, MembershipFactory, StepFactory, SubmissionFactory

pytestmark = pytest.mark.django_db

SECRET_PROMPT = "my secret prompt about llamas"


def _home(slug: str) -> str:
    return reverse("cohort:lead_home", args=[slug])


def _learner(slug: str, membership_id: int) -> str:
    return reverse("cohort:learner_detail", args=[slug, membership_id])


def _blocker(membership: Membership, step, text: str = "conflict markers everywhere") -> CheckIn:  # type: ignore[no-untyped-def]
    return CheckIn.objects.create(membership=membership, step=step, status=CheckInStatus.BLOCKED, blocker_text=text)


def _waiting_pr(membership: Membership, step, number: int = 7, days: int = 4) -> Submission:  # type: ignore[no-untyped-def]
    exercise, _ = Exercise.objects.get_or_create(
        cohort=membership.cohort, slug="first-pr", defaults={"step": step, "title": "First pull request"}
    )
    return SubmissionFactory(
        membership=membership,
        exercise=exercise,
        repository="first-break-ai/practice",
        pr_number=number,
        state=SubmissionState.OPEN,
        opened_at=timezone.now() - dt.timedelta(days=days),
    )


def _session(cohort, *, status=SessionStatus.SCHEDULED, days=2, number=1) -> OfficeHoursSession:  # type: ignore[no-untyped-def]
    return OfficeHoursSession.objects.create(
        cohort=cohort,
        number=number,
        title="Step 2 in practice",
        starts_at=timezone.now() + dt.timedelta(days=days),
        status=status,
        check_in_code="QWEN42",
    )


# --- Lead home: who gets it --------------------------------------------------------------


def test_lead_opening_root_gets_lead_home_not_learner_dashboard(world):
    response = world.client_for(world.lead).get("/")

    assert response.status_code == 200
    names = [t.name for t in response.templates]  # the page's own, then its cached fragments' (cold)
    assert "cohort/lead_home.html" in names and "cohort/dashboard.html" not in names
    page = response.content.decode()
    assert "Lead home" in page and "Add your GitHub username" not in page
    assert reverse("cohort:dashboard", args=[world.cohort.slug]) in page  # "Your own dashboard"


def test_learner_opening_root_still_gets_dashboard(world):
    response = world.client_for(world.alice).get("/")

    assert response.status_code == 200
    names = [t.name for t in response.templates]
    assert "cohort/dashboard.html" in names and "cohort/lead_home.html" not in names


def test_mentor_opening_root_gets_lead_home(world):
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user

    response = world.client_for(mentor).get("/")

    names = [t.name for t in response.templates]  # the page's own, then its cached fragments' (cold)
    assert "cohort/lead_home.html" in names and "cohort/dashboard.html" not in names


def test_lead_who_also_learns_can_switch_to_own_dashboard(world):
    # The lead of cohort A learns in another cohort: both dashboards are one click away.
    learning = CohortFactory(slug="cohort-learning", name="Cohort Learning")
    StepFactory(cohort=learning, position=1, slug="s1")
    MembershipFactory(cohort=learning, user=world.lead, role=Role.LEARNER)
    client = world.client_for(world.lead)

    home = client.get("/").content.decode()
    own = client.get(reverse("cohort:dashboard", args=[world.cohort.slug]))
    learning_page = client.get(reverse("cohort:dashboard", args=["cohort-learning"]))

    assert reverse("cohort:dashboard", args=["cohort-learning"]) in home
    assert own.status_code == 200 and "Your progress" in own.content.decode()
    assert "Back to the lead home" in own.content.decode()
    assert learning_page.status_code == 200 and "Your progress" in learning_page.content.decode()


@pytest.mark.parametrize(
    "who, status",
    [("lead", 200), ("alice", 403), ("outsider", 404), (None, 302)],
)
def test_lead_home_page_permissions(world, who, status):
    user = getattr(world, who) if who else None

    response = world.client_for(user).get(_home(world.cohort.slug))

    assert response.status_code == status


def test_other_cohorts_lead_cannot_open_lead_home(world):
    other_lead = MembershipFactory(cohort=CohortFactory(slug="cohort-z"), role=Role.LEAD).user

    assert world.client_for(other_lead).get(_home(world.cohort.slug)).status_code == 404


# --- Lead home: what it shows ---------------------------------------------------------------


def test_lead_home_shows_session_code_rsvps_queue_blocker_and_oldest_pr(world):
    session = _session(world.cohort, status=SessionStatus.LIVE, days=0)
    SessionRSVP.objects.create(session=session, membership=world.alice_membership)
    SessionRSVP.objects.create(session=session, membership=world.bob_membership)
    SessionAttendance.objects.create(session=session, membership=world.alice_membership)
    HelpRequest.objects.create(session=session, membership=world.alice_membership, description="build fails")
    _blocker(world.bob_membership, world.steps[0])
    _waiting_pr(world.alice_membership, world.steps[0], number=3, days=1)
    oldest = _waiting_pr(world.bob_membership, world.steps[0], number=9, days=6)

    response = world.client_for(world.lead).get("/")

    home = response.context["home"]
    assert home.session.session == session
    assert (home.session.rsvps, home.session.present, home.session.waiting) == (2, 1, 1)
    assert home.blocker_count == 1 and home.blockers[0].membership == world.bob_membership
    assert home.reviews.waiting == 2 and home.reviews.oldest == oldest
    assert home.stuck[0].membership == world.bob_membership  # the open blocker comes first
    page = response.content.decode()
    assert "QWEN42" in page and "conflict markers everywhere" in page and "Live now" in page
    assert oldest.pr_url in page
    assert _learner(world.cohort.slug, world.bob_membership.pk) in page
    assert reverse("exercises:lead_reviews", args=[world.cohort.slug]) in page
    assert reverse("cohort:lead_stuck", args=[world.cohort.slug]) in page


def test_lead_home_next_session_and_empty_panels(world):
    _session(world.cohort, days=3)

    page = world.client_for(world.lead).get("/").content.decode()

    assert "Next session" in page and "QWEN42" in page
    assert "Nobody is blocked." in page and "No pull request is waiting." in page


def _asked(session, membership, *, joined: int, taken: int | None, left: int) -> None:  # type: ignore[no-untyped-def]
    """A finished help request: joined, taken (None: never) and finished, in minutes after the session's start."""
    at = session.starts_at
    HelpRequest.objects.create(
        session=session,
        membership=membership,
        description="help",
        status=HelpRequestStatus.DONE if taken is not None else HelpRequestStatus.LEFT,
        joined_at=at + dt.timedelta(minutes=joined),
        started_at=None if taken is None else at + dt.timedelta(minutes=taken),
        finished_at=at + dt.timedelta(minutes=left),
    )


def test_lead_home_shows_wait_statistics_of_the_latest_ended_sessions(world):
    last = _session(world.cohort, status=SessionStatus.ENDED, days=-2, number=3)
    _asked(last, world.alice_membership, joined=0, taken=4, left=10)
    _asked(last, world.bob_membership, joined=1, taken=9, left=20)
    _asked(last, MembershipFactory(cohort=world.cohort), joined=2, taken=None, left=27)  # nobody took them
    quiet = _session(world.cohort, status=SessionStatus.ENDED, days=-9, number=2)
    older = _session(world.cohort, status=SessionStatus.ENDED, days=-30, number=1)
    _session(world.cohort, status=SessionStatus.ENDED, days=-40, number=5)  # a fourth, older one: not shown
    _session(world.cohort, days=3, number=4)  # upcoming: no statistics yet
    other = _session(CohortFactory(slug="cohort-other"), status=SessionStatus.ENDED, days=-1)
    _asked(other, MembershipFactory(cohort=other.cohort), joined=0, taken=50, left=55)

    response = world.client_for(world.lead).get("/")

    ended = response.context["home"].ended
    assert [e.session for e in ended] == [last, quiet, older]
    stats = ended[0].stats
    assert (stats.helped, stats.not_helped, stats.median_wait_minutes, stats.longest_wait_minutes) == (2, 1, 6.0, 25.0)
    page = response.content.decode()
    assert "Help queue, after the last sessions" in page
    assert "2 helped · 1 not helped · median wait 6 min · longest wait 25 min" in page
    assert "Nobody used the queue." in page  # the quiet session
    assert "50 min" not in page  # another cohort's session


def test_lead_home_without_ended_sessions_has_no_wait_statistics(world):
    _session(world.cohort, days=3)

    response = world.client_for(world.lead).get("/")

    assert response.context["home"].ended == []
    assert "Help queue, after the last sessions" not in response.content.decode()


def test_lead_home_never_shows_another_cohorts_rows(world):
    other = CohortFactory(slug="cohort-other")
    step = StepFactory(cohort=other, position=1, slug="o1")
    stranger = MembershipFactory(cohort=other)
    _blocker(stranger, step, text="someone else's blocker")
    _waiting_pr(stranger, step, number=99)

    page = world.client_for(world.lead).get("/").content.decode()

    assert "someone else&#x27;s blocker" not in page and "pull/99" not in page


# --- Per-learner page -------------------------------------------------------------------------


def _sandbox_model() -> SandboxModel:
    return SandboxModel.objects.get_or_create(slug="smollm2-135m", defaults={"name": "SmolLM2", "path": "/x"})[0]


def _learner_activity(membership: Membership, step, n: int = 1) -> None:  # type: ignore[no-untyped-def]
    model = _sandbox_model()
    for i in range(n):
        submission = _waiting_pr(membership, step, number=1000 * membership.pk + i)
        TimelineEvent.objects.create(
            submission=submission, kind="opened", summary=f"Pull request #{i} opened", occurred_at=timezone.now()
        )
        TimelineEvent.objects.create(
            submission=submission, kind="review", summary=f"Changes requested on #{i}", occurred_at=timezone.now()
        )
        CheckIn.objects.create(membership=membership, step=step, status=CheckInStatus.ON_TRACK, done_text=f"day {i}")
        run = SandboxRun.objects.create(
            membership=membership,
            model=model,
            status=RunStatus.DONE,
            request={"messages": [{"role": "user", "content": SECRET_PROMPT}]},
            params={"temperature": 0},
            seed=42 + i,
            output_text="llamas are " + SECRET_PROMPT,
        )
        exercise = Exercise.objects.create(
            cohort=membership.cohort,
            step=step,
            slug=f"sandbox-{membership.pk}-{i}",
            title=f"Greedy repeats {i}",
            kind=ExerciseKind.SANDBOX,
        )
        ExerciseCompletion.objects.create(
            membership=membership, exercise=exercise, evidence={"run": run.pk}, completed_at=timezone.now()
        )
    LabJob.objects.create(membership=membership, model=model, kind=LabKind.SWEEP, input={"prompt": SECRET_PROMPT})


def test_learner_page_shows_progress_submissions_check_ins_attendance_and_sandbox(world):
    _learner_activity(world.alice_membership, world.steps[0], n=2)
    session = _session(world.cohort, status=SessionStatus.ENDED, days=-3)
    SessionAttendance.objects.create(session=session, membership=world.alice_membership)

    response = world.client_for(world.lead).get(_learner(world.cohort.slug, world.alice_membership.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Alice" in page and "Progress by step" in page
    assert "Changes requested on #1" in page  # the timeline
    assert "day 1" in page  # a check-in
    assert "Attended" in page
    sandbox = response.context["page"].sandbox
    assert (sandbox.runs, sandbox.runs_done, sandbox.labs) == (2, 2, 1)
    assert [e.exercise_title for e in sandbox.evidence] == ["Greedy repeats 0", "Greedy repeats 1"]
    assert "seed 43" in page
    assert SECRET_PROMPT not in page  # prompts and outputs stay private


def test_learner_page_labels_times_with_the_viewers_zone(world):
    world.lead.timezone = "Asia/Tokyo"
    world.lead.save(update_fields=["timezone"])
    _learner_activity(world.alice_membership, world.steps[0])

    page = world.client_for(world.lead).get(_learner(world.cohort.slug, world.alice_membership.pk)).content.decode()

    assert "Asia/Tokyo" in page and "JST" in page


@pytest.mark.parametrize(
    "who, status",
    [("lead", 200), ("mentor", 200), ("alice", 403), ("bob", 403), ("outsider", 404), (None, 302)],
)
def test_learner_page_permissions(world, who, status):
    users = {"mentor": MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user}
    user = users.get(who) or (getattr(world, who) if who else None)

    response = world.client_for(user).get(_learner(world.cohort.slug, world.alice_membership.pk))

    assert response.status_code == status


def test_learner_page_refused_to_another_cohorts_lead(world):
    other_cohort = CohortFactory(slug="cohort-z")
    other_lead = MembershipFactory(cohort=other_cohort, role=Role.LEAD).user
    client = world.client_for(other_lead)

    # Through the learner's cohort: not a member, so not found.
    assert client.get(_learner(world.cohort.slug, world.alice_membership.pk)).status_code == 404
    # Through their own cohort with Alice's id: not a learner of that cohort.
    assert client.get(_learner("cohort-z", world.alice_membership.pk)).status_code == 404


def test_learner_names_link_to_learner_page_on_lead_pages(world):
    _blocker(world.bob_membership, world.steps[0])
    _waiting_pr(world.bob_membership, world.steps[0])
    client = world.client_for(world.lead)
    link = _learner(world.cohort.slug, world.bob_membership.pk)

    for name in ["cohort:lead_overview", "cohort:lead_stuck", "exercises:lead_reviews", "exercises:lead_matrix"]:
        page = client.get(reverse(name, args=[world.cohort.slug])).content.decode()
        assert link in page, name


# --- Query counts ----------------------------------------------------------------------------

# Session, user, the user's memberships, nav badge, stuck top 5, open blockers,
# blocker count, next session (and, being an
# unsaved-model read, the annotated counts), recent check-ins, review queue rows and count,
# the latest ended sessions and their wait statistics (one query for all of them).
LEAD_HOME_QUERIES = 15
# Warm, the panels and the nav badge come from the cache: session, user, the user's memberships.
LEAD_HOME_QUERIES_WARM = 3
# Session, user, viewer's membership, nav badge, the learner, submissions + timelines (2), open blockers,
# steps, progress, check-ins, attendance, run counts, lab counts, completions, evidence runs (evidence labs
# would be one more; none here, and an empty id list runs no query).
LEARNER_PAGE_QUERIES = 16
# Warm, the page's body and the nav badge come from the cache: session, user, viewer's membership, the learner.
LEARNER_PAGE_QUERIES_WARM = 4


def _panels(page: str) -> str:
    """The lead home's cached panels (the CSRF token elsewhere is masked anew on each response)."""
    return page[page.index('<section class="grid two lead-home">') : page.index("</section>")]


@pytest.mark.parametrize("size", SIZES)
def test_lead_home_query_count_constant(world, size, django_assert_num_queries):
    seed_cohort(world.cohort, world.steps, size)
    session = OfficeHoursSession.objects.filter(cohort=world.cohort, status=SessionStatus.SCHEDULED).first()
    learners = list(Membership.objects.filter(cohort=world.cohort, role=Role.LEARNER))
    HelpRequest.objects.bulk_create(HelpRequest(session=session, membership=m, description="help") for m in learners)
    # Every learner asked for help in each ended session: the statistics stay one query.
    now = timezone.now()
    HelpRequest.objects.bulk_create(
        HelpRequest(
            session=ended,
            membership=m,
            description="help",
            status=HelpRequestStatus.DONE if i % 2 else HelpRequestStatus.LEFT,
            joined_at=now - dt.timedelta(minutes=30),
            started_at=now - dt.timedelta(minutes=20) if i % 2 else None,
            finished_at=now - dt.timedelta(minutes=10),
        )
        for ended in OfficeHoursSession.objects.filter(cohort=world.cohort, status=SessionStatus.ENDED)
        for i, m in enumerate(learners)
    )
    client = world.client_for(world.lead)

    with django_assert_num_queries(LEAD_HOME_QUERIES):
        response = client.get("/")
    with django_assert_num_queries(LEAD_HOME_QUERIES_WARM):
        warm = client.get("/")
    assert _panels(warm.content.decode()) == _panels(response.content.decode())

    assert response.status_code == 200
    home = response.context["home"]
    assert home.session.session is not None
    assert len(home.ended) == 3 and all(e.stats.asked == len(learners) for e in home.ended)


@pytest.mark.parametrize("size", [pytest.param(1, id="1-each"), pytest.param(40, id="40-each")])
def test_learner_page_query_count_constant(world, size, django_assert_num_queries):
    seed_cohort(world.cohort, world.steps, 20)
    _learner_activity(world.alice_membership, world.steps[0], n=size)
    client = world.client_for(world.lead)

    with django_assert_num_queries(LEARNER_PAGE_QUERIES):
        response = client.get(_learner(world.cohort.slug, world.alice_membership.pk))
    with django_assert_num_queries(LEARNER_PAGE_QUERIES_WARM):
        warm = client.get(_learner(world.cohort.slug, world.alice_membership.pk))
    body = response.content.decode()
    assert (
        body[body.index('<header class="page-header">') :]
        == warm.content.decode()[body.index('<header class="page-header">') :]
    )

    assert response.status_code == 200
    assert len(response.context["page"].submissions) == size


def test_lead_home_with_many_learners_lists_only_the_top(world):
    password = make_password(None)
    users = User.objects.bulk_create(User(email=f"x{i}@example.com", password=password) for i in range(30))
    Membership.objects.bulk_create(Membership(user=u, cohort=world.cohort) for u in users)

    home = world.client_for(world.lead).get("/").context["home"]

    assert len(home.stuck) == 5
