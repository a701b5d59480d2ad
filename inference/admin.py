from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from inference.models import Experiment, ExperimentRun, ModelVariant, SandboxModel, SandboxRun
from inference.registry import ModelFileError, model_refresh_metadata

# Everything read from the GGUF file. Editing these by hand would make the pages disagree
# with what the worker loads; "Re-read metadata from the file" refreshes them instead.
FILE_METADATA_FIELDS = [
    "slug",
    "path",
    "size_bytes",
    "sha256",
    "architecture",
    "n_vocab",
    "context_length",
    "quantization",
    "bos_token_id",
    "eos_token_id",
    "add_bos",
    "supports_thinking",
    "chat_template",
    "added_at",
]


@admin.register(SandboxModel)
class SandboxModelAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "name",
        "architecture",
        "n_vocab",
        "context_length",
        "quantization",
        "size_mb",
        "supports_thinking",
        "available",
    ]
    list_filter = ["available", "architecture", "quantization", "supports_thinking"]
    search_fields = ["slug", "name", "path"]
    fields = ["name", "available", *FILE_METADATA_FIELDS]
    readonly_fields = FILE_METADATA_FIELDS
    actions = ["reread_metadata"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A model starts from a file on the workers: `manage.py sandbox_models add PATH`.
        return False

    @admin.display(description="Size", ordering="size_bytes")
    def size_mb(self, obj: SandboxModel) -> str:
        return f"{obj.size_bytes / 1_000_000:,.1f} MB"

    @admin.action(description="Re-read metadata from the file")
    def reread_metadata(self, request: HttpRequest, queryset: QuerySet[SandboxModel]) -> None:
        refreshed = 0
        for model in queryset:
            try:
                model_refresh_metadata(model=model)
            except ModelFileError as exc:
                self.message_user(request, f"{model.slug}: {exc} It is now marked unavailable.", messages.ERROR)
            else:
                refreshed += 1
        if refreshed:
            self.message_user(request, f"Re-read {refreshed} model file(s).", messages.SUCCESS)


@admin.register(SandboxRun)
class SandboxRunAdmin(admin.ModelAdmin):
    """Runs are the record of what a learner asked and what came out: viewable, never edited."""

    list_display = ["id", "membership", "model", "status", "created_at", "finished_at", "finish_reason"]
    list_filter = ["status", "model"]
    search_fields = ["membership__user__email"]
    list_select_related = ["membership__user", "membership__cohort", "model"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SandboxRun | None = None) -> bool:
        return False


@admin.register(ModelVariant)
class ModelVariantAdmin(admin.ModelAdmin):
    """Quantization-lab files: who made them and how much disk they take. Deleting a row here
    leaves its file for the hourly sweep (`inference.sweep_lab_variants`) to remove."""

    list_display = ["id", "source", "quantization", "owner", "size_mb", "created_at"]
    list_filter = ["quantization", "source"]
    search_fields = ["lab__membership__user__email"]
    list_select_related = ["source", "lab__membership__user"]
    readonly_fields = ["lab", "source", "quantization", "path", "size_bytes", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Learner", ordering="lab__membership__user__email")
    def owner(self, obj: ModelVariant) -> str:
        return obj.lab.membership.user.email

    @admin.display(description="Size", ordering="size_bytes")
    def size_mb(self, obj: ModelVariant) -> str:
        return f"{obj.size_bytes / 1_000_000:,.1f} MB"


# One tuple for both: every field of a recorded run is shown and none is editable. (A tuple, as
# a list cannot be typed as both `fields` and `readonly_fields`; the admin reads either the same way.)
_EXPERIMENT_RUN_FIELDS = (
    "run",
    "membership",
    "arm",
    "status",
    "first_token_text",
    "first_token_p",
    "output_text",
    "ended_at",
)


class ExperimentRunInline(admin.TabularInline):
    model = ExperimentRun
    extra = 0
    can_delete = False
    fields = _EXPERIMENT_RUN_FIELDS
    readonly_fields = _EXPERIMENT_RUN_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Experiment | None = None) -> bool:
        return False


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    """Live cohort experiments. Leads close them from the results page; here they can also rename or reopen."""

    list_display = ["id", "title", "cohort", "session", "model", "status", "created_at", "recap_attached_at"]
    list_filter = ["status", "cohort"]
    search_fields = ["title"]
    list_select_related = ["cohort", "session", "model"]
    readonly_fields = ["cohort", "session", "created_by", "model", "request", "params", "temperatures",
                       "created_at", "closed_at", "recap_attached_at"]  # fmt: skip
    inlines = [ExperimentRunInline]
