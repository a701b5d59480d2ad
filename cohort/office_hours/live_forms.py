from __future__ import annotations

from typing import Any, cast

from django import forms

from cohort.models import (
    ANNOUNCEMENT_MAX_CHARS,
    HELP_DESCRIPTION_MAX_CHARS,
    HELP_NOTE_MAX_CHARS,
    SHA256_RE,
    HelpResolution,
    Membership,
    OfficeHoursSession,
    Role,
)
from cohort.office_hours.live_services import Capsule, capsule_limit


class AttendanceCodeForm(forms.Form):
    code = forms.CharField(
        max_length=20,
        label="Session code",
        help_text="Your lead shows it during the session. Capitals or not, it does not matter.",
        error_messages={"required": "Type the code your lead shows in the session."},
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false", "size": 10}
        ),
    )


def _capsule_field(name: str, label: str, help_text: str = "", **widget_attrs: object) -> forms.CharField:
    limit = capsule_limit(name)
    return forms.CharField(
        label=label,
        required=False,
        max_length=limit,
        help_text=help_text,
        widget=forms.TextInput(attrs={"maxlength": limit, **widget_attrs}),
    )


class HelpRequestForm(forms.Form):
    """A place in the help queue: one sentence on what is wrong, and what a helper would ask first."""

    description = forms.CharField(
        max_length=HELP_DESCRIPTION_MAX_CHARS,
        label="What are you stuck on?",
        help_text=f"One or two sentences, up to {HELP_DESCRIPTION_MAX_CHARS} characters.",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": HELP_DESCRIPTION_MAX_CHARS}),
        error_messages={"required": "Say in a sentence what you are stuck on."},
    )
    capsule_os = _capsule_field("os", "Operating system", placeholder="Ubuntu 24.04, macOS 15, Windows 11 + WSL")
    capsule_python = _capsule_field("python", "Python version", placeholder="3.12.3")
    capsule_compiler = _capsule_field("compiler", "Compiler", placeholder="gcc 13.2, clang 17, MSVC 19.40")
    capsule_llama_cpp = _capsule_field(
        "llama_cpp", "llama.cpp / llama-cpp-python version", placeholder="b4589 or 0.3.7"
    )
    capsule_model_file = _capsule_field("model_file", "Model file", placeholder="Qwen3-0.6B-Q8_0.gguf")
    capsule_model_sha256 = forms.RegexField(
        regex=SHA256_RE,
        label="Model sha256",
        required=False,
        max_length=64,
        strip=True,
        help_text="Optional: the output of sha256sum on the model file.",
        error_messages={"invalid": "A sha256 is 64 hexadecimal characters (0-9, a-f)."},
        widget=forms.TextInput(attrs={"maxlength": 64, "spellcheck": "false", "autocomplete": "off"}),
    )
    capsule_command = forms.CharField(
        label="Command you ran",
        required=False,
        max_length=capsule_limit("command"),
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": capsule_limit("command"), "spellcheck": "false"}),
    )
    capsule_error_log = forms.CharField(
        label="Error output",
        required=False,
        max_length=capsule_limit("error_log"),
        strip=False,  # tracebacks keep their indentation; the service trims the ends
        help_text=f"Paste the last lines of the error, up to {capsule_limit('error_log'):,} characters.",
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": capsule_limit("error_log"), "spellcheck": "false"}),
    )

    CAPSULE_FIELDS = (
        "capsule_os",
        "capsule_python",
        "capsule_compiler",
        "capsule_llama_cpp",
        "capsule_model_file",
        "capsule_model_sha256",
        "capsule_command",
        "capsule_error_log",
    )

    def capsule(self) -> Capsule:
        data = self.cleaned_data
        return Capsule(**{name.removeprefix("capsule_"): data.get(name) or "" for name in self.CAPSULE_FIELDS})

    def capsule_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.CAPSULE_FIELDS]

    def capsule_has_errors(self) -> bool:
        return any(self[name].errors for name in self.CAPSULE_FIELDS)


class MarkAttendanceForm(forms.Form):
    """A lead marks one learner or mentor of the session's cohort present, or removes the mark."""

    membership = forms.ModelChoiceField(
        queryset=Membership.objects.none(),
        error_messages={"invalid_choice": "Pick a learner of this cohort."},
    )
    remove = forms.BooleanField(required=False)

    def __init__(self, *args: Any, session: OfficeHoursSession, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ModelChoiceField[Membership]", self.fields["membership"]).queryset = (
            Membership.objects.filter(cohort_id=session.cohort_id).exclude(role=Role.LEAD).select_related("user")
        )


class HelpRoomForm(forms.Form):
    """The link a lead meets a learner at; blank removes it. Only http(s) links (URLField's default schemes)."""

    help_room_url = forms.URLField(
        label="Help room link",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Shown to the learner you are helping. Leave empty to use the session's meeting link.",
    )


class AnnouncementForm(forms.Form):
    body = forms.CharField(
        max_length=ANNOUNCEMENT_MAX_CHARS,
        error_messages={
            "required": "Write the announcement first.",
            "max_length": f"Keep announcements under {ANNOUNCEMENT_MAX_CHARS} characters.",
        },
    )


class HelpNoteForm(forms.Form):
    """A helper's private note and resolution tag; both optional."""

    note = forms.CharField(max_length=HELP_NOTE_MAX_CHARS, required=False, strip=True)
    resolution = forms.ChoiceField(choices=[("", "No tag"), *HelpResolution.choices], required=False)
