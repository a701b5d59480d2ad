"""Progress, joining and profile rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from cohort import services
from cohort.models import Cohort, Membership, ProgressStatus, Role, StepProgress, User
from cohort.selectors import roadmap_for
from tests.factories import StepFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def _at(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def _current_step(membership: Membership):  # type: ignore[no-untyped-def]
    current = roadmap_for(membership=membership).current
    return current.step if current else None


# --- Progress ----------------------------------------------------------------------


def test_progress_focus_step_makes_it_current_and_started(world):
    progress = services.progress_focus_step(membership=world.alice_membership, step=world.steps[1], at=_at(0))

    assert (progress.focused_at, progress.started_at, progress.last_activity_at) == (_at(0), _at(0), _at(0))
    assert progress.status == ProgressStatus.IN_PROGRESS
    assert _current_step(world.alice_membership) == world.steps[1]
    world.alice_membership.refresh_from_db()
    assert world.alice_membership.last_activity_at == _at(0)


def test_progress_focus_latest_focused_step_wins(world):
    services.progress_focus_step(membership=world.alice_membership, step=world.steps[2], at=_at(0))
    services.progress_focus_step(membership=world.alice_membership, step=world.steps[0], at=_at(1))

    assert _current_step(world.alice_membership) == world.steps[0]


def test_progress_focus_again_keeps_first_start(world):
    services.progress_focus_step(membership=world.alice_membership, step=world.steps[0], at=_at(0))

    progress = services.progress_focus_step(membership=world.alice_membership, step=world.steps[0], at=_at(5))

    assert progress.started_at == _at(0)
    assert progress.focused_at == _at(5)


def test_progress_focus_step_of_another_cohort_refused(world):
    other_step = StepFactory(cohort=world.outsider.memberships.get().cohort)

    with pytest.raises(ValidationError):
        services.progress_focus_step(membership=world.alice_membership, step=other_step)

    assert not StepProgress.objects.exists()


def test_progress_record_activity_starts_step_without_focusing_it(world):
    progress = services.progress_record_activity(membership=world.alice_membership, step=world.steps[1], at=_at(0))

    assert progress.status == ProgressStatus.IN_PROGRESS
    assert progress.focused_at is None
    assert _current_step(world.alice_membership) == world.steps[0]


def test_progress_record_activity_never_moves_last_activity_back(world):
    services.progress_record_activity(membership=world.alice_membership, step=world.steps[0], at=_at(5))

    progress = services.progress_record_activity(membership=world.alice_membership, step=world.steps[0], at=_at(1))

    assert progress.last_activity_at == _at(5)
    assert progress.started_at == _at(1)
    world.alice_membership.refresh_from_db()
    assert world.alice_membership.last_activity_at == _at(5)


def test_progress_focus_step_never_moves_last_activity_back(world):
    services.progress_record_activity(membership=world.alice_membership, step=world.steps[0], at=_at(9))

    progress = services.progress_focus_step(membership=world.alice_membership, step=world.steps[0], at=_at(2))

    assert progress.last_activity_at == _at(9)
    assert progress.focused_at == _at(2)


def test_membership_touch_late_event_on_other_step_keeps_newest_activity(world):
    services.progress_record_activity(membership=world.alice_membership, step=world.steps[1], at=_at(8))

    services.progress_focus_step(membership=world.alice_membership, step=world.steps[0], at=_at(2))

    world.alice_membership.refresh_from_db()
    assert world.alice_membership.last_activity_at == _at(8)


def test_progress_record_activity_on_other_cohort_step_refused(world):
    other_step = StepFactory(cohort=world.outsider.memberships.get().cohort)

    with pytest.raises(ValidationError):
        services.progress_record_activity(membership=world.alice_membership, step=other_step)


def test_progress_set_completed_marks_step_done(world):
    progress = services.progress_set_completed(
        membership=world.alice_membership, step=world.steps[0], completed=True, at=_at(3)
    )

    assert progress.status == ProgressStatus.DONE
    assert (progress.completed_at, progress.started_at) == (_at(3), _at(3))
    assert roadmap_for(membership=world.alice_membership).done_count == 1


def test_progress_set_completed_twice_keeps_first_completion(world):
    services.progress_set_completed(membership=world.alice_membership, step=world.steps[0], completed=True, at=_at(3))

    progress = services.progress_set_completed(
        membership=world.alice_membership, step=world.steps[0], completed=True, at=_at(9)
    )

    assert progress.completed_at == _at(3)


def test_progress_set_completed_false_reopens_step(world):
    services.progress_focus_step(membership=world.alice_membership, step=world.steps[0], at=_at(0))
    services.progress_set_completed(membership=world.alice_membership, step=world.steps[0], completed=True, at=_at(3))

    progress = services.progress_set_completed(membership=world.alice_membership, step=world.steps[0], completed=False)

    assert progress.status == ProgressStatus.IN_PROGRESS
    assert _current_step(world.alice_membership) == world.steps[0]


def test_current_step_is_first_step_without_progress(world):
    assert _current_step(world.alice_membership) == world.steps[0]


def test_current_step_falls_to_first_not_done_step_when_focused_step_completes(world):
    services.progress_focus_step(membership=world.alice_membership, step=world.steps[0], at=_at(0))

    services.progress_set_completed(membership=world.alice_membership, step=world.steps[0], completed=True, at=_at(1))

    assert _current_step(world.alice_membership) == world.steps[1]


def test_current_step_skips_done_steps_in_order(world):
    for step in (world.steps[0], world.steps[2]):
        services.progress_set_completed(membership=world.alice_membership, step=step, completed=True, at=_at(1))

    assert _current_step(world.alice_membership) == world.steps[1]


def test_current_step_none_when_every_step_done(world):
    for step in world.steps:
        services.progress_set_completed(membership=world.alice_membership, step=step, completed=True, at=_at(1))

    roadmap = roadmap_for(membership=world.alice_membership)

    assert roadmap.current is None
    assert roadmap.percent_done == 100


def test_progress_is_per_learner(world):
    services.progress_set_completed(membership=world.alice_membership, step=world.steps[0], completed=True, at=_at(1))

    assert roadmap_for(membership=world.bob_membership).done_count == 0
    assert _current_step(world.bob_membership) == world.steps[0]


# --- Joining -----------------------------------------------------------------------


def test_membership_join_code_is_case_and_space_insensitive(world):
    membership = services.membership_join(user=world.outsider, invite_code=f"  {world.cohort.invite_code.lower()} ")

    assert (membership.cohort, membership.role) == (world.cohort, Role.LEARNER)


def test_membership_join_unknown_code_raises(world):
    with pytest.raises(services.JoinError, match="does not match"):
        services.membership_join(user=world.outsider, invite_code="NOPE")


def test_membership_join_closed_cohort_raises_for_newcomer(world):
    Cohort.objects.filter(pk=world.cohort.pk).update(invites_open=False)

    with pytest.raises(services.JoinError, match="not taking new members"):
        services.membership_join(user=world.outsider, invite_code=world.cohort.invite_code)

    assert not Membership.objects.filter(user=world.outsider, cohort=world.cohort).exists()


def test_membership_join_closed_cohort_returns_existing_membership(world):
    Cohort.objects.filter(pk=world.cohort.pk).update(invites_open=False)

    membership = services.membership_join(user=world.alice, invite_code=world.cohort.invite_code)

    assert membership == world.alice_membership


def test_cohort_rotate_invite_code_changes_code(world):
    old = world.cohort.invite_code

    cohort = services.cohort_rotate_invite_code(cohort=world.cohort)

    assert cohort.invite_code != old
    assert Cohort.objects.get(pk=world.cohort.pk).invite_code == cohort.invite_code


# --- Profile -----------------------------------------------------------------------


def test_user_update_profile_saves_stripped_values(world):
    services.user_update_profile(
        user=world.alice, name="  Alice  ", github_username=" @alice-gh ", timezone_name="Asia/Tokyo"
    )

    world.alice.refresh_from_db()
    assert (world.alice.name, world.alice.github_username, world.alice.timezone) == ("Alice", "alice-gh", "Asia/Tokyo")


def test_user_update_profile_duplicate_github_username_any_case_refused(world):
    User.objects.filter(pk=world.bob.pk).update(github_username="bob-gh")

    with pytest.raises(ValidationError) as excinfo:
        services.user_update_profile(user=world.alice, name="", github_username="BOB-GH", timezone_name="UTC")

    assert "github_username" in excinfo.value.message_dict


def test_user_update_profile_blank_github_username_allowed_for_many_users(world):
    for user in (world.alice, world.bob):
        services.user_update_profile(user=user, name="", github_username="", timezone_name="UTC")

    assert User.objects.filter(github_username="").count() == 2


def test_user_fill_github_username_only_when_empty_and_free(world):
    user = UserFactory(github_username="")
    User.objects.filter(pk=world.bob.pk).update(github_username="bob-gh")

    services.user_fill_github_username(user=user, username="Bob-GH")
    taken_result = User.objects.get(pk=user.pk).github_username
    services.user_fill_github_username(user=user, username="fresh-gh")
    services.user_fill_github_username(user=user, username="later-gh")

    assert taken_result == ""
    assert User.objects.get(pk=user.pk).github_username == "fresh-gh"
