from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from cohort.models import Cohort, Membership, RoadmapStep, repository_validator


class ExerciseKind(models.TextChoices):
    PULL_REQUEST = "pull_request", "Pull request"
    SANDBOX = "sandbox", "Sandbox"
    SELF_CHECK = "self_check", "Self check"


class CompletionRule(models.TextChoices):
    MERGED = "merged", "Merged"
    APPROVED = "approved", "Approved"
    APPROVED_AND_CHECKS_GREEN = "approved_and_checks_green", "Approved and checks green"


class SandboxRule(models.TextChoices):
    GREEDY_REPEATS = "greedy_repeats", "Two runs at temperature 0 give the same output"
    SAMPLING_VARIES = "sampling_varies", "Two runs of one prompt above a temperature give different outputs"
    THINKING_OFF_PROMPT = "thinking_off_prompt", "A run of a conversation with thinking off"
    SPECULATIVE_ACCEPTANCE = "speculative_acceptance", "A speculative decoding lab above an acceptance rate"


class Exercise(models.Model):
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="exercises")
    step = models.ForeignKey(RoadmapStep, on_delete=models.CASCADE, related_name="exercises")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=60, help_text="Put this in your branch name or PR title to link it automatically."
    )
    instructions = models.TextField(blank=True, help_text="Markdown.")
    kind = models.CharField(max_length=20, choices=ExerciseKind.choices, default=ExerciseKind.PULL_REQUEST)
    repository = models.CharField(
        max_length=140,
        blank=True,
        validators=[repository_validator],
        help_text="owner/name; empty means the cohort's practice repository.",
    )
    completion_rule = models.CharField(max_length=30, choices=CompletionRule.choices, default=CompletionRule.MERGED)
    sandbox_rule = models.CharField(max_length=30, choices=SandboxRule.choices, blank=True)
    sandbox_config = models.JSONField(
        default=dict, blank=True, help_text='Rule settings, e.g. {"min_temperature": 1.0} or {"min_acceptance": 0.5}.'
    )
    due_at = models.DateTimeField(null=True, blank=True, help_text="Late submissions are marked, not refused.")

    class Meta:
        ordering = ["step__position", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["cohort", "slug"], name="unique_exercise_slug_per_cohort")]

    def __str__(self) -> str:
        return self.title

    @property
    def repository_full_name(self) -> str:
        return self.repository or self.cohort.practice_repository


class SubmissionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    MERGED = "merged", "Merged"
    CLOSED = "closed", "Closed"


class ChecksState(models.TextChoices):
    NONE = "none", "No checks"
    PENDING = "pending", "Checks running"
    SUCCESS = "success", "Checks passed"
    FAILURE = "failure", "Checks failed"


class Submission(models.Model):
    """A learner's pull request for an exercise, as GitHub last described it.

    `state` and `checks_state` are derived from the facts below (the newest PR
    snapshot, reviews, check results) every time an event is applied, so an
    event that arrives late cannot move the submission backwards.
    """

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="submissions")
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="submissions")
    repository = models.CharField(max_length=140)
    pr_number = models.PositiveIntegerField()
    pr_url = models.URLField(max_length=300)
    title = models.CharField(max_length=300, blank=True)
    author_login = models.CharField(max_length=39, blank=True)
    author_github_id = models.BigIntegerField(null=True, blank=True)
    head_ref = models.CharField(max_length=255, blank=True)
    head_sha = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=20, choices=SubmissionState.choices, default=SubmissionState.OPEN)
    checks_state = models.CharField(max_length=10, choices=ChecksState.choices, default=ChecksState.NONE)
    has_conflict = models.BooleanField(default=False)
    # A new head commit makes GitHub's last mergeability verdict stale until it reports again.
    conflict_checking = models.BooleanField(default=False)
    # Facts from the newest pull_request snapshot applied (by its updated_at).
    pr_open = models.BooleanField(default=True)
    pr_draft = models.BooleanField(default=False)
    pr_updated_at = models.DateTimeField(null=True, blank=True)
    review_rounds = models.PositiveSmallIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    first_review_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    merged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    is_late = models.BooleanField(default=False)
    refused_reason = models.CharField(max_length=300, blank=True)
    linked_at = models.DateTimeField(auto_now_add=True)
    linked_comment_at = models.DateTimeField(null=True, blank=True)
    completed_comment_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-linked_at"]
        constraints = [
            models.UniqueConstraint(Lower("repository"), "pr_number", name="one_submission_per_pull_request"),
        ]
        indexes = [models.Index(fields=["state"]), models.Index(fields=["membership", "exercise"])]

    def __str__(self) -> str:
        return f"{self.repository}#{self.pr_number}"


class Review(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="reviews")
    github_id = models.BigIntegerField()
    reviewer_login = models.CharField(max_length=39)
    state = models.CharField(max_length=20)  # approved, changes_requested, commented, dismissed
    submitted_at = models.DateTimeField()
    commit_sha = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["submitted_at"]
        constraints = [models.UniqueConstraint(fields=["submission", "github_id"], name="one_row_per_review")]

    def __str__(self) -> str:
        return f"{self.reviewer_login}: {self.state}"


class CheckResult(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="checks")
    github_id = models.BigIntegerField()
    kind = models.CharField(max_length=12)  # check_suite or check_run
    name = models.CharField(max_length=200, blank=True)
    head_sha = models.CharField(max_length=40)
    status = models.CharField(max_length=20)
    conclusion = models.CharField(max_length=20, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["submission", "kind", "github_id"], name="one_row_per_check")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.conclusion or self.status}"


class TimelineEvent(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="timeline")
    delivery = models.ForeignKey("WebhookDelivery", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=40)
    actor_login = models.CharField(max_length=39, blank=True)
    summary = models.CharField(max_length=300)
    url = models.URLField(max_length=500, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            # A delivery replayed or redelivered adds each of its entries once (one
            # delivery can both push commits and bring a conflict).
            models.UniqueConstraint(fields=["submission", "delivery", "kind"], name="one_entry_per_delivery_kind"),
        ]

    def __str__(self) -> str:
        return self.summary


class CommentKind(models.TextChoices):
    LINKED = "linked", "Linked"
    COMPLETED = "completed", "Completed"


class CommentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    POSTED = "posted", "Posted"
    FAILED = "failed", "Failed"


class PullRequestComment(models.Model):
    """A comment the platform owes a pull request: kept until GitHub has it, so an outage loses nothing.

    One row per submission and kind makes "posted once" a constraint; posting
    claims the row by pushing `next_attempt_at` forward with a conditional UPDATE.
    """

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="comments")
    kind = models.CharField(max_length=12, choices=CommentKind.choices)
    status = models.CharField(max_length=10, choices=CommentStatus.choices, default=CommentStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    posted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["submission", "kind"], name="one_comment_per_kind")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} comment on {self.submission_id}: {self.status}"


class ExerciseCompletion(models.Model):
    """An exercise a learner finished, with the evidence (a submission) when there is one."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="completions")
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="completions")
    submission = models.ForeignKey(Submission, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # For sandbox exercises: the run or lab that met the rule, e.g. {"run": 12}.
    evidence = models.JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["membership", "exercise"], name="one_completion_per_exercise")]

    def __str__(self) -> str:
        return f"{self.membership.user} completed {self.exercise}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """Every signed delivery GitHub sent, stored before anything else happens."""

    hook_id = models.CharField(max_length=40, blank=True)
    delivery_id = models.CharField(max_length=80)
    event = models.CharField(max_length=60)
    action = models.CharField(max_length=60, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["hook_id", "delivery_id"], name="unique_delivery_per_hook")]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.event}.{self.action} {self.delivery_id}"
