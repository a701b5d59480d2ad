"""Office-hours models: sessions, topics, questions and votes, RSVPs, attendance, the help queue, announcements."""

from __future__ import annotations

import datetime as dt

from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.safestring import SafeString

from cohort.markdown import MarkdownFields
from cohort.models.core import Cohort, Membership, RoadmapStep, User, new_session_code

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
