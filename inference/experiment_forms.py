"""The lead's "start an experiment" form (the page's counterpart of POST /api/sandbox/experiments)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from inference.experiments import MAX_ARMS, MAX_RUNS_PER_LEARNER
from inference.models import SandboxModel


def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise forms.ValidationError("Text may not contain NUL characters.")


class ExperimentForm(forms.Form):
    title = forms.CharField(max_length=200, validators=[_no_nul])
    model = forms.ModelChoiceField(queryset=SandboxModel.objects.filter(available=True), to_field_name="slug",
                                   empty_label=None)  # fmt: skip
    mode = forms.ChoiceField(choices=[("chat", "Chat messages"), ("raw", "Raw prompt")], initial="chat")
    system = forms.CharField(required=False, max_length=settings.SANDBOX_MAX_PROMPT_CHARS, validators=[_no_nul],
                             widget=forms.Textarea(attrs={"rows": 2}), label="System message (optional)")  # fmt: skip
    prompt = forms.CharField(max_length=settings.SANDBOX_MAX_PROMPT_CHARS, validators=[_no_nul],
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Chat mode: the user's message. Raw mode: the exact text the model continues.")  # fmt: skip
    enable_thinking = forms.BooleanField(required=False, label="Thinking on (models that support it)")
    max_tokens = forms.IntegerField(min_value=1, max_value=settings.SANDBOX_MAX_TOKENS, initial=16)
    temperatures = forms.CharField(
        initial="0, 0.7, 1.5",
        max_length=200,
        help_text=f"One arm per temperature (0 to 2), separated by commas; at most {MAX_ARMS}. "
        "Learners are assigned to the arms in turn.",
    )
    top_k = forms.IntegerField(min_value=0, max_value=1000, initial=0, help_text="0 turns top-k off.")
    top_p = forms.FloatField(min_value=0.01, max_value=1, initial=1.0)
    min_p = forms.FloatField(min_value=0, max_value=1, initial=0.0)
    runs_per_learner = forms.IntegerField(min_value=1, max_value=MAX_RUNS_PER_LEARNER, initial=1,
                                          label="Runs per learner")  # fmt: skip

    def clean_temperatures(self) -> list[float]:
        raw = [part.strip() for part in self.cleaned_data["temperatures"].replace(";", ",").split(",")]
        values: list[float] = []
        for part in filter(None, raw):
            try:
                value = float(part)
            except ValueError:
                raise forms.ValidationError(f"“{part}” is not a number.") from None
            if not 0 <= value <= 2:
                raise forms.ValidationError("Each temperature must be between 0 and 2.")
            values.append(value)
        if not 1 <= len(values) <= MAX_ARMS:
            raise forms.ValidationError(f"Give between 1 and {MAX_ARMS} temperatures.")
        return values

    def run_request(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data["mode"] == "raw":
            return {"prompt": data["prompt"], "parse_special": False}
        messages = [{"role": "system", "content": data["system"]}] if data["system"] else []
        messages.append({"role": "user", "content": data["prompt"]})
        return {"messages": messages, "enable_thinking": data["enable_thinking"]}

    def params(self) -> dict[str, Any]:
        from inference.prompts import default_params

        data = self.cleaned_data
        params: dict[str, Any] = default_params(data["model"], enable_thinking=data["enable_thinking"])
        params.update(top_k=data["top_k"], top_p=data["top_p"], min_p=data["min_p"], max_tokens=data["max_tokens"],
                      top_n=10)  # fmt: skip
        return params
