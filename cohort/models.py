from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Length, Lower
from django.db.models.lookups import LessThanOrEqual
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


# --- Office hours ------------------------------------------------------------------------

QUESTION_MAX_CHARS = 2000
# Caps on what people write, so no text or pile of texts can make a page slow (issue 10, item 9).
QUESTIONS_PER_LEARNER_PER_SESSION = 10
TOPIC_NOTES_MAX_CHARS = 20_000
RECAP_MAX_CHARS = 100_000


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    LIVE = "live", "Live"
    ENDED = "ended", "Ended"


class OfficeHoursSession(MarkdownFields, models.Model):
    """One numbered office-hours session of a cohort; times are stored in UTC."""

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="office_hours_sessions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(default=60)
    leads = models.ManyToManyField(User, blank=True, related_name="led_office_hours")
    meeting_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED)
    recap_markdown = models.TextField(blank=True)
    recap_html = models.TextField(blank=True, editable=False)
    recap_published_at = models.DateTimeField(null=True, blank=True)
    # Bumped whenever the time changes, so calendar entries (iCalendar SEQUENCE) can replace older copies.
    sequence = models.PositiveIntegerField(default=0)
    check_in_code = models.CharField(max_length=8, default=new_session_code)
    # Set once the cohort has been told about the published recap (the task claims it).
    recap_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Where a lead meets the learner they are helping (a breakout room); shown on the "being helped" card.
    help_room_url = models.URLField("help room link", max_length=500, blank=True)
    # Bumped (in the same transaction) by every write the live panels show: status, check-ins, the queue,
    # announcements. Open pages poll with the value they have; an equal value is answered "204 unchanged".
    live_version = models.PositiveIntegerField(default=0)

    MARKDOWN_FIELDS = {"recap_markdown": ("recap_html", True)}

    class Meta:
        ordering = ["cohort", "number"]
        constraints = [
            models.UniqueConstraint(fields=["cohort", "number"], name="unique_session_number"),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=5, duration_minutes__lte=480),
                name="session_duration_range",
            ),
        ]
        indexes = [models.Index(fields=["cohort", "starts_at"])]

    def __str__(self) -> str:
        return f"Session {self.number}: {self.title}"

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.duration_minutes)

    @property
    def recap_is_published(self) -> bool:
        return self.recap_published_at is not None

    @property
    def accepts_questions(self) -> bool:
        return self.status != SessionStatus.ENDED

    @property
    def recap_has_diagrams(self) -> bool:
        # Lets pages skip the 3.5 MB diagram library when a recap has no mermaid block: the renderer's own
        # markup, so a fence quoted inside another fence (rendered as code) does not count.
        return 'class="mermaid"' in self.recap_as_html

    @property
    def recap_as_html(self) -> SafeString:
        return self.rendered("recap_markdown")


class SessionTopic(MarkdownFields, models.Model):
    session = models.ForeignKey(OfficeHoursSession, on_delete=models.CASCADE, related_name="topics")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    step = models.ForeignKey(
        RoadmapStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="office_hours_topics"
    )
    notes = models.TextField(blank=True, help_text="Markdown.")
    notes_html = models.TextField(blank=True, editable=False)

    MARKDOWN_FIELDS = {"notes": ("notes_html", False)}

    class Meta:
        ordering = ["session", "position"]
        constraints = [models.UniqueConstraint(fields=["session", "position"], name="unique_topic_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"

    @property
    def notes_as_html(self) -> SafeString:
        return self.rendered("notes")


class SessionQuestion(MarkdownFields, models.Model):
    session = models.ForeignKey(OfficeHoursSession, on_delete=models.CASCADE, related_name="questions")
    author = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="office_hours_questions")
    body = models.TextField(max_length=QUESTION_MAX_CHARS, help_text="Markdown.")
    body_html = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_topic = models.ForeignKey(
        SessionTopic, on_delete=models.SET_NULL, null=True, blank=True, related_name="answered_questions"
    )

    MARKDOWN_FIELDS = {"body": ("body_html", False)}

    class Meta:
        ordering = ["session", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("body"), QUESTION_MAX_CHARS), name="question_body_max_length"
            ),
            models.CheckConstraint(
                condition=models.Q(answered_topic__isnull=True) | models.Q(answered_at__isnull=False),
                name="question_topic_only_when_answered",
            ),
        ]

    def __str__(self) -> str:
        return f"Question {self.pk} on {self.session}"

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None

    @property
    def body_as_html(self) -> SafeString:
        return self.rendered("body")


class QuestionVote(models.Model):
    question = models.ForeignKey(SessionQuestion, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="office_hours_votes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "voter"], name="one_vote_per_question")]

    def __str__(self) -> str:
        return f"{self.voter} +1 question {self.question_id}"


class SessionRSVP(models.Model):
    """A member saying they will come; reminders go to these, each at most once."""

    session = models.ForeignKey(OfficeHoursSession, on_delete=models.CASCADE, related_name="rsvps")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="session_rsvps")
    created_at = models.DateTimeField(default=timezone.now)
    reminded_24h_at = models.DateTimeField(null=True, blank=True)
    reminded_1h_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "membership"], name="one_rsvp_per_session")]

    def __str__(self) -> str:
        return f"{self.membership.user} RSVP {self.session}"


class AttendanceSource(models.TextChoices):
    CODE = "code", "Checked in with the session code"
    LEAD = "lead", "Marked by a lead"


class SessionAttendance(models.Model):
    session = models.ForeignKey(OfficeHoursSession, on_delete=models.CASCADE, related_name="attendance")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="session_attendance")
    checked_in_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=AttendanceSource.choices, default=AttendanceSource.CODE)
    marked_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "membership"], name="one_attendance_per_session")]

    def __str__(self) -> str:
        return f"{self.membership.user} attended {self.session}"


HELP_DESCRIPTION_MAX_CHARS = 500
HELP_ERROR_LOG_MAX_CHARS = 20_000
SHA256_RE = r"^[0-9a-fA-F]{64}$"


class HelpRequestStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    HELPING = "helping", "Being helped"
    DONE = "done", "Done"
    LEFT = "left", "Left the queue"


class HelpResolution(models.TextChoices):
    """How a help request ended, as the helper tags it (for the lead's own follow-up and the statistics)."""

    FIXED = "fixed", "Fixed"
    WORKAROUND = "workaround", "Workaround"
    EXPLAINED = "explained", "Explained a concept"
    FOLLOW_UP = "follow_up", "Needs a follow-up"
    NOT_REPRODUCED = "not_reproduced", "Could not reproduce"


HELP_NOTE_MAX_CHARS = 1000


class HelpRequest(models.Model):
    """A place in a live session's help queue, with an optional debug capsule.

    Rows are kept after they leave the queue (done or left): they are the
    history of who was helped with what.
    """

    session = models.ForeignKey(OfficeHoursSession, on_delete=models.CASCADE, related_name="help_requests")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="help_requests")
    description = models.CharField(max_length=HELP_DESCRIPTION_MAX_CHARS)
    status = models.CharField(max_length=10, choices=HelpRequestStatus.choices, default=HelpRequestStatus.WAITING)
    # No earlier request in any session of the cohort: leads may put first-time askers first.
    first_time = models.BooleanField(default=False)
    joined_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    helped_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Debug capsule: what a helper asks first, collected up front.
    capsule_os = models.CharField("OS", max_length=120, blank=True)
    capsule_python = models.CharField("Python version", max_length=60, blank=True)
    capsule_compiler = models.CharField("compiler", max_length=120, blank=True)
    capsule_llama_cpp = models.CharField("llama.cpp / llama-cpp-python version", max_length=120, blank=True)
    capsule_model_file = models.CharField("model file", max_length=255, blank=True)
    capsule_model_sha256 = models.CharField(
        "model sha256",
        max_length=64,
        blank=True,
        validators=[RegexValidator(SHA256_RE, "A sha256 is 64 hexadecimal characters.")],
    )
    capsule_command = models.TextField("command", max_length=2000, blank=True)
    capsule_error_log = models.TextField("error log", max_length=HELP_ERROR_LOG_MAX_CHARS, blank=True)
    # What the helpers keep for themselves: never shown to the learner.
    staff_note = models.TextField("private note", max_length=HELP_NOTE_MAX_CHARS, blank=True)
    resolution = models.CharField(max_length=20, choices=HelpResolution.choices, blank=True)

    class Meta:
        ordering = ["session", "joined_at", "pk"]
        constraints = [
            # At most one open place per member and session, even with two tabs racing.
            models.UniqueConstraint(
                fields=["session", "membership"],
                condition=models.Q(status__in=["waiting", "helping"]),
                name="one_open_help_request",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("capsule_error_log"), HELP_ERROR_LOG_MAX_CHARS),
                name="help_error_log_max_length",
            ),
        ]
        indexes = [models.Index(fields=["session", "status"])]

    def __str__(self) -> str:
        return f"{self.membership.user} in the queue of {self.session} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in (HelpRequestStatus.WAITING, HelpRequestStatus.HELPING)


ANNOUNCEMENT_MAX_CHARS = 280


class SessionAnnouncement(models.Model):
    """A short line a lead posts to everyone on the live page ("Back in 5 minutes", "Now on topic 3")."""

    session = models.ForeignKey(OfficeHoursSession, on_delete=models.CASCADE, related_name="announcements")
    body = models.CharField(max_length=ANNOUNCEMENT_MAX_CHARS)
    author = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "-created_at", "-pk"]
        indexes = [models.Index(fields=["session", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.session}: {self.body[:40]}"


CHECK_IN_TEXT_MAX_CHARS = 1000


class CheckInStatus(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    BLOCKED = "blocked", "Blocked"


class CheckIn(models.Model):
    """A learner's short status for their current step; a blocked one is an open blocker until resolved."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="check_ins")
    step = models.ForeignKey(RoadmapStep, on_delete=models.CASCADE, related_name="check_ins")
    status = models.CharField(max_length=10, choices=CheckInStatus.choices)
    done_text = models.TextField("done", max_length=CHECK_IN_TEXT_MAX_CHARS, blank=True)
    next_text = models.TextField("next", max_length=CHECK_IN_TEXT_MAX_CHARS, blank=True)
    blocker_text = models.TextField("blocker", max_length=CHECK_IN_TEXT_MAX_CHARS, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Leads are emailed about a blocker once; the task claims this field.
    leads_notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="blocked") | ~models.Q(blocker_text=""),
                name="blocked_check_in_has_blocker",
            ),
        ]
        indexes = [models.Index(fields=["membership", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.membership.user} · {self.step.code}: {self.get_status_display()}"

    @property
    def is_open_blocker(self) -> bool:
        return self.status == CheckInStatus.BLOCKED and self.resolved_at is None
