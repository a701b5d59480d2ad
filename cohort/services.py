"""Every write and rule about cohorts, memberships and progress."""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cohort.models import (
    Cohort,
    Invitation,
    Membership,
    RoadmapStep,
    Role,
    StepProgress,
    User,
    github_username_validator,
    new_invite_code,
    validate_timezone,
)

logger = logging.getLogger(__name__)


class JoinError(Exception):
    """A join attempt that cannot succeed; the message is safe to show."""


# --- Profile -------------------------------------------------------------------


def github_username_taken(*, username: str, exclude_user_id: int | None = None) -> bool:
    if not username:
        return False
    others = User.objects.filter(github_username__iexact=username)
    if exclude_user_id is not None:
        others = others.exclude(pk=exclude_user_id)
    return others.exists()


@transaction.atomic
def user_update_profile(*, user: User, name: str, github_username: str, timezone_name: str) -> User:
    github_username = github_username.strip().lstrip("@")
    if github_username:
        github_username_validator(github_username)
        if github_username_taken(username=github_username, exclude_user_id=user.pk):
            raise ValidationError({"github_username": "Another account already uses this GitHub username."})
    validate_timezone(timezone_name)
    user.name = name.strip()
    user.github_username = github_username
    user.timezone = timezone_name
    user.save(update_fields=["name", "github_username", "timezone"])
    return user


def user_set_timezone(*, user: User, timezone_name: str) -> User:
    """Save the zone the browser reported (offered on a first visit); an unknown name is a ValidationError."""
    validate_timezone(timezone_name)
    user.timezone = timezone_name
    user.save(update_fields=["timezone"])
    return user


def user_fill_github_username(*, user: User, username: str) -> None:
    """Record the GitHub login of a user who has none yet (from OAuth or a roster)."""
    if user.github_username or not username or github_username_taken(username=username, exclude_user_id=user.pk):
        return
    user.github_username = username
    user.save(update_fields=["github_username"])


# --- Joining -------------------------------------------------------------------


@transaction.atomic
def membership_join(*, user: User, invite_code: str) -> Membership:
    code = invite_code.strip().upper()
    cohort = Cohort.objects.filter(invite_code=code).first()
    if cohort is None:
        raise JoinError("That invite code does not match any cohort. Check it with your session lead.")
    existing = Membership.objects.filter(user=user, cohort=cohort).first()
    if existing:
        return existing
    if not cohort.invites_open:
        raise JoinError(f"{cohort.name} is not taking new members through its invite code.")
    membership = Membership.objects.create(user=user, cohort=cohort, role=Role.LEARNER)
    logger.info("user %s joined cohort %s by invite code", user.pk, cohort.slug)
    return membership


JOIN_CODE_SESSION_KEY = "join_invite_code"


@transaction.atomic
def invitation_from_invite_link(*, invite_code: str, email: str) -> Invitation | None:
    """Someone signed up from a cohort's invite link: invite their address, so confirming it joins the cohort.

    Confirmation may happen in another browser (the link in the mail), so the
    pending join is kept in the database, not in the session. A code that no
    longer works (rotated, invites closed) invites nobody.
    """
    cohort = Cohort.objects.filter(invite_code=invite_code.strip().upper(), invites_open=True).first()
    if cohort is None or not email:
        return None
    invitation, _ = Invitation.objects.get_or_create(
        cohort=cohort, email=email.lower(), defaults={"role": Role.LEARNER}
    )
    return invitation


@transaction.atomic
def cohort_rotate_invite_code(*, cohort: Cohort) -> Cohort:
    """Give the cohort a new invite code; links with the old one stop working."""
    cohort.invite_code = new_invite_code()
    cohort.save(update_fields=["invite_code"])
    return cohort


@transaction.atomic
def invitations_accept(*, user: User, email: str) -> list[Membership]:
    """Turn pending roster invitations for a verified email into memberships."""
    now = timezone.now()
    memberships = []
    pending = Invitation.objects.select_for_update().filter(email__iexact=email, accepted_at__isnull=True)
    for invitation in pending:
        membership, _ = Membership.objects.get_or_create(
            user=user, cohort=invitation.cohort, defaults={"role": invitation.role}
        )
        if invitation.name and not user.name:
            user.name = invitation.name
            user.save(update_fields=["name"])
        user_fill_github_username(user=user, username=invitation.github_username)
        invitation.accepted_at = now
        invitation.save(update_fields=["accepted_at"])
        memberships.append(membership)
    return memberships


# --- Progress --------------------------------------------------------------------


def _progress_row(*, membership: Membership, step: RoadmapStep) -> StepProgress:
    if step.cohort_id != membership.cohort_id:
        raise ValidationError("That step belongs to another cohort.")
    progress, _ = StepProgress.objects.select_for_update().get_or_create(membership=membership, step=step)
    return progress


@transaction.atomic
def progress_focus_step(*, membership: Membership, step: RoadmapStep, at: datetime | None = None) -> StepProgress:
    """The learner says they are working on `step`: it becomes their current step."""
    at = at or timezone.now()
    progress = _progress_row(membership=membership, step=step)
    progress.focused_at = at
    progress.started_at = progress.started_at or at
    progress.last_activity_at = max(progress.last_activity_at, at) if progress.last_activity_at else at
    progress.save(update_fields=["focused_at", "started_at", "last_activity_at"])
    membership_touch(membership=membership, at=at)
    return progress


@transaction.atomic
def progress_record_activity(*, membership: Membership, step: RoadmapStep, at: datetime | None = None) -> StepProgress:
    """Something the learner did on `step` (a PR event, a run, a check-in): the step is started."""
    at = at or timezone.now()
    progress = _progress_row(membership=membership, step=step)
    progress.started_at = min(progress.started_at, at) if progress.started_at else at
    progress.last_activity_at = max(progress.last_activity_at, at) if progress.last_activity_at else at
    progress.save(update_fields=["started_at", "last_activity_at"])
    membership_touch(membership=membership, at=at)
    return progress


@transaction.atomic
def progress_set_completed(
    *, membership: Membership, step: RoadmapStep, completed: bool, at: datetime | None = None
) -> StepProgress:
    """Called by the rules that decide whether a step's requirements are met."""
    at = at or timezone.now()
    progress = _progress_row(membership=membership, step=step)
    if completed and not progress.completed_at:
        progress.completed_at = at
        progress.started_at = progress.started_at or at
    elif not completed:
        progress.completed_at = None
    progress.save(update_fields=["completed_at", "started_at"])
    return progress


def membership_touch(*, membership: Membership, at: datetime) -> None:
    # A conditional UPDATE so a late, older event never moves the clock back.
    Membership.objects.filter(pk=membership.pk).filter(
        Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=at)
    ).update(last_activity_at=at)
