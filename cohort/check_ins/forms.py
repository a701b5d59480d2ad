"""Forms for check-ins and the agenda builder.

The check-in form takes the cohort's steps as a list the page has loaded
already (the dashboard's roadmap), so rendering it costs no query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms

from cohort.check_ins.agenda import ProposalKind
from cohort.models import CHECK_IN_TEXT_MAX_CHARS, CheckInStatus, RoadmapStep


def _text(label: str, placeholder: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=CHECK_IN_TEXT_MAX_CHARS,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": CHECK_IN_TEXT_MAX_CHARS, "placeholder": placeholder}),
        error_messages={
            "max_length": f"Keep it under {CHECK_IN_TEXT_MAX_CHARS} characters (it has %(show_value)d).",
        },
    )


class CheckInPostForm(forms.Form):
    step = forms.ChoiceField(label="Step")
    status = forms.ChoiceField(
        choices=CheckInStatus.choices,
        initial=CheckInStatus.ON_TRACK,
        widget=forms.RadioSelect,
        label="How is it going?",
        error_messages={
            "required": "Choose “On track” or “Blocked”.",
            "invalid_choice": "Choose “On track” or “Blocked”.",
        },
    )
    done_text = _text("Done", "What you finished since last time")
    next_text = _text("Next", "What you will do next")
    blocker_text = _text("Blocker", "Required when blocked: what stops you, what you tried")

    def __init__(
        self, *args: Any, steps: Sequence[RoadmapStep], current: RoadmapStep | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.steps = {step.slug: step for step in steps}
        cast(forms.ChoiceField, self.fields["step"]).choices = [(s.slug, f"{s.code}: {s.title}") for s in steps]
        if current is not None:
            self.fields["step"].initial = current.slug

    def clean_step(self) -> RoadmapStep:
        return self.steps[self.cleaned_data["step"]]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if data.get("status") == CheckInStatus.BLOCKED and not data.get("blocker_text"):
            self.add_error("blocker_text", "Say what is blocking you, so a lead can help.")
        elif not any(data.get(name) for name in ("done_text", "next_text", "blocker_text")):
            raise forms.ValidationError("Write at least one line: what you did, what is next, or what blocks you.")
        return data


class AgendaAddForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k, k) for k in ProposalKind.ALL])
    ref_id = forms.IntegerField(min_value=1)
