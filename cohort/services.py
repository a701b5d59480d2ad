"""Every write and rule about cohorts, memberships and progress."""

from __future__ import annotations

import logging
from datetime import datetime

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from cohort.errors import Refused
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
from cohort.tasks import send_invitations
from config.publish import publish_after_commit

logger = logging.getLogger(__name__)


class JoinError(Refused):
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
    if github_username.lower() != user.github_username.lower():
        # A new name is a new claim: it earns nothing until proven again.
        user.github_id = None
        user.github_confirmed_at = None
    user.github_username = github_username
    user.timezone = timezone_name
    user.save(update_fields=["name", "github_username", "github_id", "github_confirmed_at", "timezone"])
    return user


@transaction.atomic
def user_connect_github(*, user: User, login: str, github_id: int) -> None:
    """Record a GitHub account the user proved through OAuth: its login and numeric id.

    Someone else who merely typed this login loses it: the proven owner wins.
    """
    if not login:
        return
    User.objects.filter(github_username__iexact=login).exclude(pk=user.pk).update(
        github_username="", github_id=None, github_confirmed_at=None
    )
    User.objects.filter(github_id=github_id).exclude(pk=user.pk).update(github_id=None, github_confirmed_at=None)
    user.github_username = login
    user.github_id = github_id
    user.github_confirmed_at = timezone.now()
    user.save(update_fields=["github_username", "github_id", "github_confirmed_at"])


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
    # Signing up from the cohort's own link is the person asking to join: their consent.
    invitation, _ = Invitation.objects.update_or_create(
        cohort=cohort,
        email=email.lower(),
        defaults={"requested_by_invitee": True},
        create_defaults={"role": Role.LEARNER, "requested_by_invitee": True},
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
    """Accept the invitations of a verified email that its owner consented to.

    Signing up after being invited, or from the cohort's invite link, is consent
    to join; a roster invitation sent to an account that already existed waits
    for `invitation_respond`.
    """
    pending = Invitation.objects.select_for_update().filter(
        Q(created_at__lte=user.date_joined) | Q(requested_by_invitee=True),
        email__iexact=email,
        accepted_at__isnull=True,
        declined_at__isnull=True,
    )
    return [_invitation_accept(invitation=invitation, user=user) for invitation in pending]


def invitations_resend(*, invitations: QuerySet[Invitation]) -> int:
    """Email the pending ones among `invitations` again (an admin action), once the transaction commits."""
    pending = list(invitations.filter(accepted_at__isnull=True).values_list("pk", flat=True))
    Invitation.objects.filter(pk__in=pending).update(emailed_at=None)
    publish_after_commit(send_invitations, invitation_ids=pending)
    return len(pending)


class InvitationError(Refused):
    """An invitation this user cannot answer any more; the message is safe to show."""


class InvitationNotFound(InvitationError):
    """No pending invitation with that id is addressed to the user's verified emails."""


@transaction.atomic
def invitation_respond(*, user: User, invitation_id: int, accept: bool) -> Invitation:
    """Accept or decline one pending invitation addressed to one of the user's verified emails."""
    verified = EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("cohort")
        .filter(pk=invitation_id, email__in=[e.lower() for e in verified])
        .first()
    )
    if invitation is None:
        raise InvitationNotFound("There is no such invitation for your email addresses.")
    if invitation.accepted_at or invitation.declined_at:
        raise InvitationError("You have already answered this invitation.")
    if accept:
        _invitation_accept(invitation=invitation, user=user)
    else:
        invitation.declined_at = timezone.now()
        invitation.save(update_fields=["declined_at"])
    return invitation


def _invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    membership, _ = Membership.objects.get_or_create(
        user=user, cohort=invitation.cohort, defaults={"role": invitation.role}
    )
    if invitation.name and not user.name:
        user.name = invitation.name
        user.save(update_fields=["name"])
    user_fill_github_username(user=user, username=invitation.github_username)
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return membership


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
