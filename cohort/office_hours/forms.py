from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, cast

from django import forms

from cohort.markdown import normalize_newlines
from cohort.models import (
    QUESTION_MAX_CHARS,
    RECAP_MAX_CHARS,
    TOPIC_NOTES_MAX_CHARS,
    Cohort,
    OfficeHoursSession,
    RoadmapStep,
    Role,
    SessionStatus,
    SessionTopic,
    User,
)
from cohort.office_hours.services import SERIES_MAX_SESSIONS

_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class _StaffChoice(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]  # Django's class is not subscriptable at run time
    def label_from_instance(self, obj: User) -> str:
        return obj.display_name


class SessionForm(forms.Form):
    """A session's details; the start is typed on the cohort's clock and stored in UTC."""

    title = forms.CharField(max_length=200, initial="Office hours")
    starts_at = forms.DateTimeField(
        input_formats=[_LOCAL_FORMAT, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=_LOCAL_FORMAT),
    )
    duration_minutes = forms.IntegerField(min_value=5, max_value=480, initial=60, label="Length (minutes)")
    leads = _StaffChoice(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Session leads",
    )
    meeting_url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", label="Meeting link", help_text="Optional."
    )

    def __init__(self, *args: Any, cohort: Cohort, session: OfficeHoursSession | None = None, **kwargs: Any) -> None:
        self.cohort = cohort
        self.zone = zoneinfo.ZoneInfo(cohort.timezone)
        if session is not None:
            kwargs.setdefault(
                "initial",
                {
                    "title": session.title,
                    "starts_at": session.starts_at.astimezone(self.zone).replace(tzinfo=None),
                    "duration_minutes": session.duration_minutes,
                    "leads": list(session.leads.all()),
                    "meeting_url": session.meeting_url,
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["starts_at"].label = f"Starts at ({cohort.timezone}, the cohort's time zone)"
        cast("_StaffChoice", self.fields["leads"]).queryset = User.objects.filter(
            memberships__cohort=cohort, memberships__role__in=[Role.LEAD, Role.MENTOR]
        ).order_by("name", "email")

    def clean_starts_at(self) -> dt.datetime:
        # Django read the digits as UTC; they are the cohort's wall clock.
        wall: dt.datetime = self.cleaned_data["starts_at"].astimezone(dt.UTC).replace(tzinfo=None)
        local = wall.replace(tzinfo=self.zone)
        if local.astimezone(dt.UTC).astimezone(self.zone).replace(tzinfo=None) != wall:
            raise forms.ValidationError(f"That time does not exist in {self.cohort.timezone} (the clocks change).")
        return local.astimezone(dt.UTC)


class SeriesForm(SessionForm):
    count = forms.IntegerField(min_value=2, max_value=SERIES_MAX_SESSIONS, initial=4, label="Number of weekly sessions")

    field_order = ["title", "starts_at", "count", "duration_minutes", "leads", "meeting_url"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["starts_at"].label = f"First session starts at ({self.cohort.timezone})"
        self.fields["count"].help_text = "One a week at the same local time, numbered on from the last session."


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=SessionStatus.choices)


class MarkdownField(forms.CharField):
    """Markdown as stored: CRLF (what a textarea submits) becomes LF before the length is checked.

    A browser counts a line break once towards `maxlength`, so a text it accepted is not refused here.
    """

    def to_python(self, value: object) -> str:
        return normalize_newlines(super().to_python(value) or "")


class TopicForm(forms.Form):
    title = forms.CharField(max_length=200)
    step = forms.ModelChoiceField(
        queryset=RoadmapStep.objects.none(), required=False, empty_label="No roadmap step", label="Roadmap step"
    )
    notes = MarkdownField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        max_length=TOPIC_NOTES_MAX_CHARS,
        help_text="Markdown.",
    )

    def __init__(
        self, *args: Any, session: OfficeHoursSession, topic: SessionTopic | None = None, **kwargs: Any
    ) -> None:
        if topic is not None:
            kwargs.setdefault("initial", {"title": topic.title, "step": topic.step_id, "notes": topic.notes})
        super().__init__(*args, **kwargs)
        cast("forms.ModelChoiceField[RoadmapStep]", self.fields["step"]).queryset = RoadmapStep.objects.filter(
            cohort_id=session.cohort_id
        ).order_by("position")


class QuestionForm(forms.Form):
    body = MarkdownField(
        max_length=QUESTION_MAX_CHARS,
        label="Your question",
        help_text=f"Markdown, up to {QUESTION_MAX_CHARS} characters. You can edit or delete it until it is answered.",
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": QUESTION_MAX_CHARS}),
        error_messages={"required": "Write your question first."},
    )


class AnswerForm(forms.Form):
    topic = forms.ModelChoiceField(queryset=SessionTopic.objects.none(), required=False)

    def __init__(self, *args: Any, session: OfficeHoursSession, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ModelChoiceField[SessionTopic]", self.fields["topic"]).queryset = session.topics.all()


class RecapForm(forms.Form):
    recap_markdown = MarkdownField(
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "true"}),
        required=False,
        max_length=RECAP_MAX_CHARS,
        label="Recap",
        help_text="Markdown. Code blocks are highlighted; a ```mermaid block becomes a diagram.",
    )
