from __future__ import annotations

import secrets
import zoneinfo
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.safestring import SafeString

from cohort.markdown import MarkdownFields

GITHUB_USERNAME_RE = r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$"
REPOSITORY_RE = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"

github_username_validator = RegexValidator(
    GITHUB_USERNAME_RE,
    "A GitHub username has 1 to 39 letters, digits or single hyphens, and does not start or end with a hyphen.",
)
repository_validator = RegexValidator(REPOSITORY_RE, "Use the form owner/name, for example first-break-ai/practice.")


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (use a name like Europe/Berlin).")


READABLE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_invite_code() -> str:
    # 10 characters of base32-like text: easy to read aloud, hard to guess.
    return "".join(secrets.choice(READABLE_ALPHABET) for _ in range(10))


def new_session_code() -> str:
    # Said aloud in a live session and typed by learners; only valid while that session is live.
    return "".join(secrets.choice(READABLE_ALPHABET) for _ in range(6))


def new_calendar_token() -> str:
    # The whole secret of a calendar feed URL: calendar apps cannot log in.
    return secrets.token_urlsafe(24)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person who signs in: learners, mentors and leads alike (role is per cohort)."""

    username = None  # type: ignore[assignment]  # AbstractUser's username field is removed: the email is the login
    email = models.EmailField("email address", unique=True)
    name = models.CharField(max_length=120, blank=True)
    github_username = models.CharField(
        max_length=39,
        blank=True,
        validators=[github_username_validator],
        help_text="How pull requests on GitHub are matched to you.",
    )
    # GitHub's numeric account id: from a connected GitHub account, or pinned by the first
    # delivery after a lead confirmed the username. Logins can be renamed and reused; ids cannot.
    github_id = models.BigIntegerField(null=True, blank=True, unique=True)
    # When the username was proven (GitHub sign-in, or a lead's confirmation); until then
    # pull requests by that login earn nothing.
    github_confirmed_at = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # Creates users by email; django-stubs expects AbstractUser's manager, which asks for a username.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            # GitHub logins are case-insensitive: "Alice" and "alice" are one account.
            models.UniqueConstraint(
                Lower("github_username"),
                name="unique_github_username_ci",
                condition=~models.Q(github_username=""),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def github_confirmed(self) -> bool:
        return bool(self.github_username) and self.github_confirmed_at is not None


class Cohort(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    practice_repository = models.CharField(
        max_length=140, validators=[repository_validator], help_text="GitHub repository as owner/name."
    )
    invite_code = models.CharField(max_length=16, unique=True, default=new_invite_code)
    invites_open = models.BooleanField(default=True)
    calendar_token = models.CharField(max_length=64, unique=True, default=new_calendar_token)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="cohort_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": "The cohort must end on or after its start date."})


class Role(models.TextChoices):
    LEARNER = "learner", "Learner"
    MENTOR = "mentor", "Mentor"
    LEAD = "lead", "Lead"


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.LEARNER)
    joined_at = models.DateTimeField(default=timezone.now)
    # Touched by services whenever the learner does something that counts
    # (a PR event, a check-in, a sandbox run, attendance); read by lead pages.
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # Private calendar feed of this member (rotatable from the sessions page).
    calendar_token = models.CharField(max_length=64, unique=True, default=new_calendar_token)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "cohort"], name="one_membership_per_cohort")]
        indexes = [models.Index(fields=["cohort", "role"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.cohort} ({self.get_role_display()})"

    @property
    def is_staff_role(self) -> bool:
        return self.role in (Role.LEAD, Role.MENTOR)


class RoadmapStep(MarkdownFields, models.Model):
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=40, help_text='Short label such as "Step 1" or "Project Watch".')
    slug = models.SlugField(max_length=80)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=400, blank=True)
    body = models.TextField(blank=True, help_text="Markdown. Raw HTML is sanitized when shown.")
    body_html = models.TextField(blank=True, editable=False)

    MARKDOWN_FIELDS = {"body": ("body_html", False)}

    class Meta:
        ordering = ["cohort", "position"]
        constraints = [
            models.UniqueConstraint(fields=["cohort", "position"], name="unique_step_position"),
            models.UniqueConstraint(fields=["cohort", "slug"], name="unique_step_slug"),
        ]

    def __str__(self) -> str:
        # A title that already starts with its code ("Project Watch: Unsloth") is not prefixed twice.
        if self.title.startswith(self.code):
            return self.title
        return f"{self.code}: {self.title}"

    @property
    def body_as_html(self) -> SafeString:
        return self.rendered("body")


class StepResource(models.Model):
    step = models.ForeignKey(RoadmapStep, on_delete=models.CASCADE, related_name="resources")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=200)
    url = models.URLField(max_length=500)

    class Meta:
        ordering = ["step", "position", "id"]

    def __str__(self) -> str:
        return self.title


class ProgressStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"


class StepProgress(models.Model):
    """What a learner did on one step, from which their status is derived.

    Nobody edits a status: `started_at` is set when the learner says they are
    working on the step (or does something on it), `completed_at` by the
    services that decide a step's requirements are met (exercises, later).
    """

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="step_progress")
    step = models.ForeignKey(RoadmapStep, on_delete=models.CASCADE, related_name="progress")
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    focused_at = models.DateTimeField(null=True, blank=True, help_text="When the learner marked this step as current.")
    last_activity_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "step progress"
        verbose_name_plural = "step progress"
        constraints = [models.UniqueConstraint(fields=["membership", "step"], name="one_progress_per_step")]

    def __str__(self) -> str:
        return f"{self.membership.user} · {self.step.code}: {self.get_status_display()}"

    @property
    def status(self) -> str:
        if self.completed_at:
            return ProgressStatus.DONE
        if self.started_at:
            return ProgressStatus.IN_PROGRESS
        return ProgressStatus.NOT_STARTED

    def get_status_display(self) -> str:
        return ProgressStatus(self.status).label


class Invitation(models.Model):
    """A roster row waiting for its person's consent.

    Someone without an account yet joins by signing up with this address (the
    invitation predates the account, so signing up is the consent). Someone who
    already had an account when the lead imported the roster is never added
    behind their back: they accept or decline it on /invitations/.
    """

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    name = models.CharField(max_length=120, blank=True)
    github_username = models.CharField(max_length=39, blank=True, validators=[github_username_validator])
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.LEARNER)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    # Made when someone signed up from the cohort's invite link: they asked to join.
    requested_by_invitee = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cohort", "email"], name="one_invitation_per_email")]

    def __str__(self) -> str:
        return f"{self.email} → {self.cohort}"
