from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from exercises.deliveries import delivery_replay
from exercises.models import (
    CheckResult,
    Exercise,
    ExerciseCompletion,
    Review,
    Submission,
    TimelineEvent,
    WebhookDelivery,
)


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "cohort", "step", "kind", "completion_rule", "due_at"]
    list_filter = ["cohort", "kind", "completion_rule"]
    search_fields = ["title", "slug", "instructions"]
    list_select_related = ["cohort", "step"]
    prepopulated_fields = {"slug": ("title",)}


class TimelineInline(admin.TabularInline):
    model = TimelineEvent
    extra = 0
    can_delete = False
    readonly_fields = ["occurred_at", "kind", "actor_login", "summary", "url"]
    fields = readonly_fields


class ReviewInline(admin.TabularInline):
    model = Review
    extra = 0
    can_delete = False
    readonly_fields = ["reviewer_login", "state", "submitted_at", "commit_sha"]
    fields = readonly_fields


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "membership",
        "exercise",
        "state",
        "checks_state",
        "has_conflict",
        "review_rounds",
        "opened_at",
        "completed_at",
    ]
    list_filter = ["state", "checks_state", "has_conflict", "exercise__cohort", "exercise"]
    search_fields = [
        "repository",
        "title",
        "author_login",
        "membership__user__email",
        "membership__user__github_username",
    ]
    list_select_related = ["membership__user", "exercise"]
    readonly_fields = [f.name for f in Submission._meta.fields if f.name not in ("id",)]
    inlines = [ReviewInline, TimelineInline]


@admin.register(ExerciseCompletion)
class ExerciseCompletionAdmin(admin.ModelAdmin):
    list_display = ["membership", "exercise", "completed_at", "submission"]
    list_filter = ["exercise__cohort", "exercise"]
    search_fields = ["membership__user__email", "exercise__title"]
    list_select_related = ["membership__user", "exercise", "submission"]


@admin.register(CheckResult)
class CheckResultAdmin(admin.ModelAdmin):
    list_display = ["submission", "kind", "name", "head_sha", "status", "conclusion", "completed_at"]
    list_filter = ["kind", "conclusion"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["delivery_id", "hook_id", "event", "action", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "event"]
    search_fields = ["delivery_id", "hook_id", "error"]
    readonly_fields = [
        "hook_id",
        "delivery_id",
        "event",
        "action",
        "payload",
        "received_at",
        "status",
        "attempts",
        "error",
        "processed_at",
    ]
    actions = ["replay"]
    date_hierarchy = "received_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Replay the selected deliveries")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            delivery_replay(delivery=delivery)
        self.message_user(request, f"{queryset.count()} deliveries queued for replay.", messages.SUCCESS)
