from __future__ import annotations

import functools
import re
import zoneinfo

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict

from cohort.models import User, github_username_validator

GITHUB_PROFILE_URL_RE = re.compile(r"^(?:https?://)?(?:www\.)?github\.com/", re.IGNORECASE)


def _timezone_choices() -> list[tuple[str, str]]:
    return list(_zones())


@functools.cache
def _zones() -> tuple[tuple[str, str], ...]:
    # available_timezones() walks the tz database's files on every call (a few ms per form built,
    # and the profile page builds two); the installed zones do not change while the process runs.
    return tuple((name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones()))


class JoinForm(forms.Form):
    invite_code = forms.CharField(
        max_length=16,
        label="Invite code",
        help_text="The code your session lead shared, for example K7QX2M9PLA.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=120, required=False, label="Your name")
    github_username = forms.CharField(
        max_length=40,  # room for a leading "@", stripped below
        required=False,
        label="GitHub username",
        help_text="Your pull requests are matched to you by this name.",
    )
    timezone = forms.ChoiceField(choices=_timezone_choices, label="Time zone")

    @classmethod
    def for_user(cls, user: User, data: QueryDict | None = None) -> ProfileForm:
        form = cls(
            data, initial={"name": user.name, "github_username": user.github_username, "timezone": user.timezone}
        )
        if settings.GITHUB_LOGIN_ENABLED:
            # The username then comes only from a connected GitHub account, never from typing.
            del form.fields["github_username"]
        return form

    def clean_github_username(self) -> str:
        # Validated after stripping: field validators would run first and refuse "@name".
        # A pasted profile URL (https://github.com/name) counts as the name.
        username = self.cleaned_data["github_username"].strip()
        username = GITHUB_PROFILE_URL_RE.sub("", username).strip("/").lstrip("@")
        if username:
            github_username_validator(username)
        return username


class RosterImportForm(forms.Form):
    file = forms.FileField(
        label="Roster CSV",
        help_text="Columns: email (required), name, github_username, role (learner, mentor or lead).",
    )

    def clean_file(self) -> UploadedFile[bytes]:
        upload: UploadedFile[bytes] = self.cleaned_data["file"]
        if (upload.size or 0) > settings.ROSTER_MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {settings.ROSTER_MAX_BYTES // 1000} kB.")
        return upload


class TimezoneForm(forms.Form):
    """The zone the browser reports (Intl.DateTimeFormat), offered once and saved on a click."""

    timezone = forms.ChoiceField(choices=_timezone_choices, label="Time zone")
    next = forms.CharField(required=False, max_length=500)
