"""Check-in models: a learner's short status for their current step."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from cohort.models.core import Membership, RoadmapStep, User

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
