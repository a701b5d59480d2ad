from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from cohort import services
from cohort.models import (
    CheckIn,
    Cohort,
    HelpRequest,
    Invitation,
    Membership,
    OfficeHoursSession,
    QuestionVote,
    RoadmapStep,
    Role,
    SessionAttendance,
    SessionQuestion,
    SessionRSVP,
    SessionTopic,
    StepProgress,
    StepResource,
    User,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _Learners(TypedDict):
    _learners: int


class _Votes(TypedDict):
    _votes: int


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "name",
        "github_username",
        "timezone",
        "is_staff",
        "is_active",
        "date_joined",
        "last_login",
    ]
    list_filter = ["is_staff", "is_superuser", "is_active", "memberships__cohort"]
    search_fields = ["email", "name", "github_username"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "github_username", "timezone")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "joined_at", "last_activity_at"]
    readonly_fields = ["last_activity_at"]


class RoadmapStepInline(admin.TabularInline):
    model = RoadmapStep
    extra = 0
    fields = ["position", "code", "slug", "title"]
    show_change_link = True


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "starts_on",
        "ends_on",
        "timezone",
        "practice_repository",
        "learner_count",
        "invites_open",
    ]
    list_filter = ["invites_open", "starts_on"]
    search_fields = ["name", "slug", "practice_repository"]
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ["invite_code", "created_at"]
    inlines = [RoadmapStepInline, MembershipInline]
    actions = ["rotate_invite_codes", "close_invites", "open_invites"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Cohort]:
        return (
            super()
            .get_queryset(request)
            .annotate(_learners=Count("memberships", filter=Q(memberships__role=Role.LEARNER)))
        )

    @admin.display(description="Learners", ordering="_learners")
    def learner_count(self, obj: WithAnnotations[Cohort, _Learners]) -> int:
        return obj._learners

    @admin.action(description="Replace the invite code (old links stop working)")
    def rotate_invite_codes(self, request: HttpRequest, queryset: QuerySet[Cohort]) -> None:
        for cohort in queryset:
            services.cohort_rotate_invite_code(cohort=cohort)
        self.message_user(request, f"New invite codes for {queryset.count()} cohort(s).", messages.SUCCESS)

    @admin.action(description="Stop accepting new members by invite code")
    def close_invites(self, request: HttpRequest, queryset: QuerySet[Cohort]) -> None:
        queryset.update(invites_open=False)

    @admin.action(description="Accept new members by invite code")
    def open_invites(self, request: HttpRequest, queryset: QuerySet[Cohort]) -> None:
        queryset.update(invites_open=True)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "cohort", "role", "joined_at", "last_activity_at"]
    list_filter = ["cohort", "role"]
    search_fields = ["user__email", "user__name", "user__github_username", "cohort__name"]
    list_select_related = ["user", "cohort"]
    autocomplete_fields = ["user"]
    readonly_fields = ["last_activity_at"]
    actions = ["make_learner", "make_mentor", "make_lead"]

    def _set_role(self, request: HttpRequest, queryset: QuerySet[Membership], role: str) -> None:
        changed = queryset.update(role=role)
        self.message_user(request, f"{changed} membership(s) are now {Role(role).label.lower()}s.", messages.SUCCESS)

    @admin.action(description="Make learner")
    def make_learner(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        self._set_role(request, queryset, Role.LEARNER)

    @admin.action(description="Make mentor")
    def make_mentor(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        self._set_role(request, queryset, Role.MENTOR)

    @admin.action(description="Make lead")
    def make_lead(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        self._set_role(request, queryset, Role.LEAD)


class StepResourceInline(admin.TabularInline):
    model = StepResource
    extra = 1


@admin.register(RoadmapStep)
class RoadmapStepAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "cohort", "position"]
    list_filter = ["cohort"]
    search_fields = ["code", "title", "summary", "body"]
    list_select_related = ["cohort"]
    prepopulated_fields = {"slug": ("title",)}
    inlines = [StepResourceInline]
    ordering = ["cohort", "position"]


@admin.register(StepProgress)
class StepProgressAdmin(admin.ModelAdmin):
    """Read-only: progress is derived from what learners do, never typed in."""

    list_display = ["membership", "step", "status_label", "started_at", "completed_at", "last_activity_at"]
    list_filter = ["step__cohort", "step"]
    search_fields = ["membership__user__email", "membership__user__github_username"]
    list_select_related = ["membership__user", "membership__cohort", "step"]

    @admin.display(description="Status")
    def status_label(self, obj: StepProgress) -> str:
        return obj.get_status_display()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "cohort", "role", "created_at", "emailed_at", "accepted_at"]
    list_filter = ["cohort", "role", ("accepted_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "name", "github_username"]
    list_select_related = ["cohort"]
    readonly_fields = ["emailed_at", "accepted_at", "invited_by"]
    actions = ["resend"]

    @admin.action(description="Send the invitation email again")
    def resend(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        pending = services.invitations_resend(invitations=queryset)
        self.message_user(request, f"{pending} invitation(s) queued.", messages.SUCCESS)


# --- Office hours -----------------------------------------------------------------------


class SessionTopicInline(admin.TabularInline):
    model = SessionTopic
    extra = 0
    fields = ["position", "title", "step", "notes"]
    autocomplete_fields = ["step"]


@admin.register(OfficeHoursSession)
class OfficeHoursSessionAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "cohort", "starts_at", "duration_minutes", "status", "recap_published_at"]
    list_display_links = ["number", "title"]
    list_filter = ["cohort", "status", ("recap_published_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "recap_markdown", "topics__title"]
    list_select_related = ["cohort"]
    filter_horizontal = ["leads"]
    readonly_fields = ["sequence", "check_in_code", "recap_notified_at", "created_at"]
    inlines = [SessionTopicInline]
    ordering = ["cohort", "number"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[OfficeHoursSession], search_term: str
    ) -> tuple[QuerySet[OfficeHoursSession], bool]:
        results, _may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return results.distinct(), False


class QuestionVoteInline(admin.TabularInline):
    model = QuestionVote
    extra = 0
    fields = ["voter", "created_at"]
    readonly_fields = ["voter", "created_at"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SessionQuestion)
class SessionQuestionAdmin(admin.ModelAdmin):
    list_display = ["short_body", "session", "author", "votes_count", "created_at", "answered_at"]
    list_filter = ["session__cohort", ("answered_at", admin.EmptyFieldListFilter)]
    search_fields = ["body", "author__user__email", "author__user__name"]
    list_select_related = ["session__cohort", "author__user", "author__cohort"]
    raw_id_fields = ["session", "author", "answered_topic"]
    readonly_fields = ["created_at", "edited_at"]
    inlines = [QuestionVoteInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SessionQuestion]:
        return super().get_queryset(request).annotate(_votes=Count("votes"))

    @admin.display(description="Question")
    def short_body(self, obj: SessionQuestion) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"

    @admin.display(description="Votes", ordering="_votes")
    def votes_count(self, obj: WithAnnotations[SessionQuestion, _Votes]) -> int:
        return obj._votes


@admin.register(SessionRSVP)
class SessionRSVPAdmin(admin.ModelAdmin):
    list_display = ["session", "membership", "created_at", "reminded_24h_at", "reminded_1h_at"]
    list_filter = ["session__cohort"]
    search_fields = ["membership__user__email", "membership__user__name"]
    list_select_related = ["session__cohort", "membership__user", "membership__cohort"]
    raw_id_fields = ["session", "membership"]
    readonly_fields = ["reminded_24h_at", "reminded_1h_at"]


@admin.register(SessionAttendance)
class SessionAttendanceAdmin(admin.ModelAdmin):
    list_display = ["session", "membership", "checked_in_at", "source", "marked_by"]
    list_filter = ["session__cohort", "source"]
    search_fields = ["membership__user__email", "membership__user__name"]
    list_select_related = ["session__cohort", "membership__user", "membership__cohort", "marked_by"]
    raw_id_fields = ["session", "membership", "marked_by"]


@admin.register(HelpRequest)
class HelpRequestAdmin(admin.ModelAdmin):
    list_display = ["session", "membership", "status", "first_time", "joined_at", "started_at", "finished_at"]
    list_filter = ["session__cohort", "status", "first_time"]
    search_fields = ["description", "membership__user__email", "capsule_error_log"]
    list_select_related = ["session__cohort", "membership__user", "membership__cohort"]
    raw_id_fields = ["session", "membership", "helped_by"]


@admin.register(CheckIn)
class CheckInAdmin(admin.ModelAdmin):
    list_display = ["membership", "step", "status", "created_at", "leads_notified_at", "resolved_at"]
    list_filter = ["membership__cohort", "status", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["done_text", "next_text", "blocker_text", "membership__user__email"]
    list_select_related = ["membership__user", "membership__cohort", "step"]
    raw_id_fields = ["membership", "step", "resolved_by"]
    readonly_fields = ["leads_notified_at"]
