"""Who is stuck: figures, sorting and filtering in cohort/check_ins/stuck.py, the lead page and resolving blockers."""

from __future__ import annotations

import datetime as dt
from itertools import count

import pytest
from django.urls import reverse
from django.utils import timezone

from cohort.check_ins import services as check_ins
from cohort.check_ins.stuck import StuckFilters, stuck_page
from cohort.models import (
    AttendanceSource,
    CheckIn,
    CheckInStatus,
    Membership,
    Role,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
    StepProgress,
)
from cohort.services import progress_focus_step
from exercises.models import Exercise, Review, Submission, SubmissionState
from tests.factories import MembershipFactory, SessionFactory, StepFactory, SubmissionFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
_pr_numbers = count(1)


def _url(world, **query) -> str:  # type: ignore[no-untyped-def]
    url = reverse("cohort:lead_stuck", args=[world.cohort.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _page(world, **filters):  # type: ignore[no-untyped-def]
    return stuck_page(cohort=world.cohort, filters=StuckFilters(**filters), now=NOW)


def _row(page, membership: Membership):  # type: ignore[no-untyped-def]
    return next(r for r in page.rows if r.membership.pk == membership.pk)


def _names(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.membership.user.display_name for r in page.rows]


def _blocked(membership: Membership, step, text: str = "stuck", *, days_ago: float = 0) -> CheckIn:  # type: ignore[no-untyped-def]
    return check_ins.check_in_post(
        membership=membership,
        step=step,
        status=CheckInStatus.BLOCKED,
        blocker_text=text,
        at=NOW - dt.timedelta(days=days_ago),
    )


def _set_activity(membership: Membership, *, days_ago: float | None) -> None:
    at = None if days_ago is None else NOW - dt.timedelta(days=days_ago)
    Membership.objects.filter(pk=membership.pk).update(last_activity_at=at)


@pytest.fixture
def exercise(world) -> Exercise:
    return Exercise.objects.create(cohort=world.cohort, step=world.steps[0], title="First PR", slug="first-pr")


def _submission(
    exercise: Exercise, membership: Membership, *, state: str, opened_days_ago: float, **extra
) -> Submission:  # type: ignore[no-untyped-def]
    return SubmissionFactory(
        membership=membership,
        exercise=exercise,
        repository="first-break-ai/practice",
        state=state,
        opened_at=NOW - dt.timedelta(days=opened_days_ago),
        **extra,
    )


def _review(submission: Submission, *, state: str, days_ago: float) -> Review:
    return Review.objects.create(
        submission=submission,
        github_id=next(_pr_numbers),
        reviewer_login="lead",
        state=state,
        submitted_at=NOW - dt.timedelta(days=days_ago),
    )


@pytest.fixture
def mentor(world) -> Membership:
    return MembershipFactory(cohort=world.cohort, role=Role.MENTOR, user=UserFactory(email="mentor@example.com"))


# --- Figures ----------------------------------------------------------------------------------


def test_current_step_is_focused_step_else_first_not_done(world):
    progress_focus_step(membership=world.alice_membership, step=world.steps[2])
    StepProgress.objects.create(membership=world.bob_membership, step=world.steps[0], completed_at=NOW)

    page = _page(world)

    assert _row(page, world.alice_membership).current_step == world.steps[2]
    assert _row(page, world.bob_membership).current_step == world.steps[1]


def test_current_step_skips_a_focused_step_that_is_done(world):
    progress_focus_step(membership=world.alice_membership, step=world.steps[1])
    StepProgress.objects.filter(membership=world.alice_membership, step=world.steps[1]).update(completed_at=NOW)

    assert _row(_page(world), world.alice_membership).current_step == world.steps[0]


def test_days_inactive_from_last_activity_or_from_joining(world):
    _set_activity(world.alice_membership, days_ago=4.5)
    _set_activity(world.bob_membership, days_ago=None)
    Membership.objects.filter(pk=world.bob_membership.pk).update(joined_at=NOW - dt.timedelta(days=9, hours=1))

    page = _page(world)

    alice, bob = _row(page, world.alice_membership), _row(page, world.bob_membership)
    assert (alice.days_inactive, alice.never_active, alice.is_inactive) == (4, False, True)
    assert (bob.days_inactive, bob.never_active) == (9, True)


def test_open_blockers_listed_and_resolved_ones_not(world):
    _blocked(world.alice_membership, world.steps[0], "pip cannot build llama-cpp-python")
    resolved = _blocked(world.alice_membership, world.steps[1], "old problem")
    check_ins.check_in_resolve(check_in=resolved, by=world.lead)

    page = _page(world)

    alice = _row(page, world.alice_membership)
    assert [b.blocker_text for b in alice.blockers] == ["pip cannot build llama-cpp-python"]
    assert alice.membership.open_blockers == 1
    assert _row(page, world.bob_membership).blockers == []


def test_stalled_submissions_count_only_past_n_days(world, exercise):
    alice, bob = world.alice_membership, world.bob_membership
    _submission(exercise, alice, state=SubmissionState.OPEN, opened_days_ago=5)  # waiting, old
    _submission(exercise, alice, state=SubmissionState.OPEN, opened_days_ago=1)  # waiting, recent
    reviewed = _submission(exercise, alice, state=SubmissionState.OPEN, opened_days_ago=6, first_review_at=NOW)
    _review(reviewed, state="commented", days_ago=0)
    old_changes = _submission(exercise, bob, state=SubmissionState.CHANGES_REQUESTED, opened_days_ago=10)
    _review(old_changes, state="changes_requested", days_ago=4)
    new_changes = _submission(exercise, bob, state=SubmissionState.CHANGES_REQUESTED, opened_days_ago=10)
    _review(new_changes, state="changes_requested", days_ago=8)
    _review(new_changes, state="changes_requested", days_ago=1)  # asked again yesterday: not stalled yet
    _submission(exercise, bob, state=SubmissionState.DRAFT, opened_days_ago=30)
    _submission(exercise, bob, state=SubmissionState.APPROVED, opened_days_ago=30)

    default = _page(world)  # N = 3
    one_day = _page(world, days=1)

    a, b = _row(default, alice).membership, _row(default, bob).membership
    assert (a.waiting_reviews, a.changes_stalled) == (1, 0)
    assert (b.waiting_reviews, b.changes_stalled) == (0, 1)
    a1, b1 = _row(one_day, alice).membership, _row(one_day, bob).membership
    assert (a1.waiting_reviews, b1.changes_stalled) == (1, 1)  # the 1-day-old ones are not *more* than 1 day
    assert _row(_page(world, days=2), bob).membership.changes_stalled == 1


def test_missed_sessions_are_ended_sessions_since_joining_not_attended(world):
    Membership.objects.filter(pk=world.alice_membership.pk).update(joined_at=NOW - dt.timedelta(days=30))
    Membership.objects.filter(pk=world.bob_membership.pk).update(joined_at=NOW - dt.timedelta(days=10))
    before_bob = SessionFactory(cohort=world.cohort, starts_at=NOW - dt.timedelta(days=20), status=SessionStatus.ENDED)
    attended = SessionFactory(cohort=world.cohort, starts_at=NOW - dt.timedelta(days=7), status=SessionStatus.ENDED)
    # Nobody pressed "end", but it finished days ago: it counts as held.
    unmarked = SessionFactory(cohort=world.cohort, starts_at=NOW - dt.timedelta(days=3), status=SessionStatus.SCHEDULED)
    SessionFactory(cohort=world.cohort, starts_at=NOW - dt.timedelta(minutes=10), status=SessionStatus.LIVE)
    SessionFactory(cohort=world.cohort, starts_at=NOW + dt.timedelta(days=2))
    SessionFactory(starts_at=NOW - dt.timedelta(days=5), status=SessionStatus.ENDED)  # another cohort's
    for session in (before_bob, attended):
        SessionAttendance.objects.create(session=session, membership=world.alice_membership)
    SessionAttendance.objects.create(session=attended, membership=world.bob_membership, source=AttendanceSource.LEAD)
    SessionRSVP.objects.create(session=unmarked, membership=world.bob_membership)

    page = _page(world)

    alice, bob = _row(page, world.alice_membership).membership, _row(page, world.bob_membership).membership
    assert (alice.missed_sessions, alice.missed_after_rsvp) == (1, 0)  # unmarked
    assert (bob.missed_sessions, bob.missed_after_rsvp) == (1, 1)  # unmarked, which bob RSVP'd to
    assert page.ended_sessions == 3


def test_summary_counts_the_whole_cohort_whatever_the_filter(world):
    _blocked(world.alice_membership, world.steps[0])
    _set_activity(world.bob_membership, days_ago=10)
    _set_activity(world.alice_membership, days_ago=0)

    page = _page(world, only_blocked=True)

    assert (page.summary.learners, page.summary.blocked, page.summary.inactive) == (2, 1, 1)
    assert _names(page) == ["Alice"]


# --- Sorting and filtering ----------------------------------------------------------------------


@pytest.fixture
def crowd(world, exercise):  # type: ignore[no-untyped-def]
    """Alice (2 blockers), Bob (quiet 8 days), Carol (3 waiting PRs), Dan (missed 2 sessions), Eve (fine)."""
    carol = MembershipFactory(cohort=world.cohort, user=UserFactory(name="Carol"))
    dan = MembershipFactory(cohort=world.cohort, user=UserFactory(name="Dan"))
    eve = MembershipFactory(cohort=world.cohort, user=UserFactory(name="eve"))  # lower case: sorting ignores case
    members = [world.alice_membership, world.bob_membership, carol, dan, eve]
    Membership.objects.filter(pk__in=[m.pk for m in members]).update(joined_at=NOW - dt.timedelta(days=40))
    for days, m in zip([1, 8, 2, 3.5, 0.5], members, strict=True):
        _set_activity(m, days_ago=days)
    _blocked(world.alice_membership, world.steps[1], "a1", days_ago=1)
    _blocked(world.alice_membership, world.steps[1], "a2", days_ago=1)
    _set_activity(world.alice_membership, days_ago=1)
    for _ in range(3):
        _submission(exercise, carol, state=SubmissionState.OPEN, opened_days_ago=6)
    sessions = [
        SessionFactory(cohort=world.cohort, starts_at=NOW - dt.timedelta(days=d), status=SessionStatus.ENDED)
        for d in (14, 7)
    ]
    for session in sessions:
        for m in members:
            if m != dan:
                SessionAttendance.objects.create(session=session, membership=m)
    for m, step in ((world.bob_membership, world.steps[2]), (carol, world.steps[1])):
        progress_focus_step(membership=m, step=step, at=NOW - dt.timedelta(days=20))
    _set_activity(world.bob_membership, days_ago=8)
    _set_activity(carol, days_ago=2)
    return {"carol": carol, "dan": dan, "eve": eve}


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("blockers", ["Alice", "Bob", "Dan", "Carol", "eve"]),  # then longest inactive
        ("inactive", ["Bob", "Dan", "Carol", "Alice", "eve"]),
        ("submissions", ["Carol", "Bob", "Dan", "Alice", "eve"]),
        ("missed", ["Dan", "Bob", "Carol", "Alice", "eve"]),
        ("name", ["Alice", "Bob", "Carol", "Dan", "eve"]),
    ],
)
def test_sorting(world, crowd, sort, expected):
    assert _names(_page(world, sort=sort)) == expected


def test_filter_only_blocked(world, crowd):
    assert _names(_page(world, only_blocked=True)) == ["Alice"]


def test_filter_only_inactive_uses_n_days(world, crowd):
    assert _names(_page(world, only_inactive=True, sort="name")) == ["Bob", "Dan"]  # more than 3 days
    assert _names(_page(world, only_inactive=True, sort="name", days=1)) == ["Bob", "Carol", "Dan"]
    assert _names(_page(world, only_inactive=True, days=10)) == []


def test_filter_by_current_step(world, crowd):
    # Alice's blockers started step 2 but she never focused it: her current step is still the first not done.
    assert _names(_page(world, step_slug="step-2", sort="name")) == ["Carol"]
    assert _names(_page(world, step_slug="step-3")) == ["Bob"]
    assert _names(_page(world, step_slug="step-1", sort="name")) == ["Alice", "Dan", "eve"]


def test_filters_combine(world, crowd):
    assert _names(_page(world, only_blocked=True, step_slug="step-3")) == []


def test_filters_from_query_fall_back_on_bad_input():
    filters = StuckFilters.from_query({"sort": "drop table", "days": "abc", "blocked": "yes", "step": "x" * 500})

    assert (filters.sort, filters.days, filters.only_blocked, len(filters.step_slug)) == ("blockers", 3, False, 80)
    assert StuckFilters.from_query({"days": "-4"}).days == 1
    assert StuckFilters.from_query({"days": "100000"}).days == 90


# --- Page and permissions ----------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [("lead", 200), ("mentor", 200), ("alice", 403), ("outsider", 404)])
def test_stuck_page_permissions(world, mentor, who, status):
    user = mentor.user if who == "mentor" else getattr(world, who)

    response = world.client_for(user).get(_url(world))

    assert response.status_code == status


def test_stuck_page_anonymous_goes_to_login(world):
    response = world.client_for(None).get(_url(world))

    assert response.status_code == 302
    assert reverse("account_login") in response.url


def test_blocked_check_in_shows_at_once_on_stuck_page_and_lead_nav(world):
    lead = world.client_for(world.lead)
    before = lead.get(reverse("cohort:lead_overview", args=[world.cohort.slug])).content.decode()

    world.client_for(world.alice).post(
        reverse("cohort:check_in_create", args=[world.cohort.slug]),
        {"step": "step-2", "status": "blocked", "blocker_text": "GGUF <b>checksum</b> mismatch"},
    )

    overview = lead.get(reverse("cohort:lead_overview", args=[world.cohort.slug])).content.decode()
    stuck = lead.get(_url(world, blocked=1)).content.decode()
    assert "1 blocked" not in before
    assert "1 blocked" in overview
    assert "GGUF &lt;b&gt;checksum&lt;/b&gt; mismatch" in stuck  # escaped
    assert "Mark resolved" in stuck


def test_stuck_page_htmx_returns_the_table_only(world):
    response = world.client_for(world.lead).get(_url(world, sort="name"), HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert "<table" in body and "<html" not in body


def test_stuck_page_bad_parameters_still_render(world):
    response = world.client_for(world.lead).get(_url(world, sort="x", days="y", page="z", step="nope"))

    assert response.status_code == 200


def test_stuck_page_empty_states(world):
    lead = world.client_for(world.lead)

    assert "No open blockers" in lead.get(_url(world, blocked=1)).content.decode()
    assert "Nobody matches these filters" in lead.get(_url(world, inactive=1, days=90)).content.decode()


def test_stuck_page_mentor_sees_blockers_without_resolve_button(world, mentor):
    _blocked(world.alice_membership, world.steps[0], "need help")

    body = world.client_for(mentor.user).get(_url(world)).content.decode()

    assert "need help" in body
    assert "Mark resolved" not in body


def test_stuck_page_times_in_cohort_timezone(world):
    world.cohort.timezone = "America/New_York"
    world.cohort.save(update_fields=["timezone"])
    check_ins.check_in_post(
        membership=world.alice_membership,
        step=world.steps[0],
        status=CheckInStatus.BLOCKED,
        blocker_text="x",
        at=dt.datetime(2026, 3, 13, 17, 0, tzinfo=dt.UTC),
    )

    body = world.client_for(world.lead).get(_url(world)).content.decode()

    assert "Fri 13 Mar, 13:00 EDT" in body


# --- Resolving -----------------------------------------------------------------------------------------


def _resolve(world, user, check_in_id: int, **data):  # type: ignore[no-untyped-def]
    url = reverse("cohort:blocker_resolve", args=[world.cohort.slug, check_in_id])
    return world.client_for(user).post(url, data)


def test_lead_resolves_a_blocker_and_returns_to_the_filtered_page(world):
    blocker = _blocked(world.alice_membership, world.steps[0])
    back = _url(world, blocked=1, sort="name")

    response = _resolve(world, world.lead, blocker.pk, next=back)

    blocker.refresh_from_db()
    assert response.status_code == 302 and response.url == back
    assert blocker.resolved_by == world.lead and blocker.resolved_at is not None


@pytest.mark.parametrize(("who", "status"), [("mentor", 403), ("alice", 403), ("bob", 403), ("outsider", 404)])
def test_resolve_refused_for_everyone_but_leads(world, mentor, who, status):
    blocker = _blocked(world.alice_membership, world.steps[0])
    user = mentor.user if who == "mentor" else getattr(world, who)

    response = _resolve(world, user, blocker.pk)

    blocker.refresh_from_db()
    assert response.status_code == status
    assert blocker.resolved_at is None


def test_resolve_another_cohorts_blocker_is_404(world):
    other = Membership.objects.get(user=world.outsider)
    step = StepFactory(cohort=other.cohort, position=1)
    foreign = _blocked(other, step)

    response = _resolve(world, world.lead, foreign.pk)

    foreign.refresh_from_db()
    assert response.status_code == 404
    assert foreign.resolved_at is None


def test_resolve_get_is_405(world):
    blocker = _blocked(world.alice_membership, world.steps[0])

    response = world.client_for(world.lead).get(reverse("cohort:blocker_resolve", args=[world.cohort.slug, blocker.pk]))

    assert response.status_code == 405


# --- What counts as activity -----------------------------------------------------------------------------


def test_sandbox_run_submission_counts_as_activity(world, smollm2, django_capture_on_commit_callbacks):
    from inference import services as inference_services

    with django_capture_on_commit_callbacks(execute=False):
        run = inference_services.run_create(
            membership=world.alice_membership,
            model=smollm2,
            request={"mode": "raw", "prompt": "Hello"},
            params={"max_tokens": 4},
            seed=1,
        )

    world.alice_membership.refresh_from_db()
    assert world.alice_membership.last_activity_at == run.created_at
    assert _row(stuck_page(cohort=world.cohort, filters=StuckFilters()), world.alice_membership).days_inactive == 0


def test_stuck_page_htmx_table_carries_the_summary_for_the_chosen_n(world):
    _set_activity(world.alice_membership, days_ago=4)
    _set_activity(world.bob_membership, days_ago=0)
    lead = world.client_for(world.lead)

    three = lead.get(_url(world, days=3), HTTP_HX_REQUEST="true").content.decode()
    five = lead.get(_url(world, days=5), HTTP_HX_REQUEST="true").content.decode()

    assert "<strong>1</strong> inactive for more than 3 days" in three
    assert "<strong>0</strong> inactive for more than 5 days" in five
