from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from exercises.deliveries import delivery_replay
from exercises.models import (
    CheckResult,
    CommentStatus,
    Exercise,
    ExerciseCompletion,
    PullRequestComment,
    Review,
    Submission,
    TimelineEvent,
    WebhookDelivery,
)
from exercises.notify import comment_retry_now


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
    fields = tuple(readonly_fields)


class ReviewInline(admin.TabularInline):
    model = Review
    extra = 0
    can_delete = False
    readonly_fields = ["reviewer_login", "state", "submitted_at", "commit_sha"]
    fields = tuple(readonly_fields)


class CommentInline(admin.TabularInline):
    model = PullRequestComment
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "status", "attempts", "next_attempt_at", "error", "posted_at"]
    fields = tuple(readonly_fields)


@admin.register(PullRequestComment)
class PullRequestCommentAdmin(admin.ModelAdmin):
    """Comments the platform owes pull requests: waiting ones ride out a GitHub outage, failed ones need a look."""

    list_display = ["submission", "kind", "status", "attempts", "next_attempt_at", "error", "posted_at"]
    list_filter = ["status", "kind", "submission__exercise__cohort"]
    search_fields = ["submission__repository", "error"]
    list_select_related = ["submission"]
    readonly_fields = [
        "submission",
        "kind",
        "status",
        "attempts",
        "next_attempt_at",
        "error",
        "created_at",
        "posted_at",
    ]
    actions = ["retry_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Try the selected comments again now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[PullRequestComment]) -> None:
        comments = list(queryset.exclude(status=CommentStatus.POSTED))
        for comment in comments:
            comment_retry_now(comment=comment)
        self.message_user(request, f"{len(comments)} comments queued.", messages.SUCCESS)


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
    inlines = [ReviewInline, CommentInline, TimelineInline]


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
