"""Validation of sandbox API bodies, with field errors a learner can act on."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from inference.chat_templates import MAX_TEMPLATE_CHARS
from inference.models import SandboxModel
from inference.prompts import default_params

ROLES = ("system", "user", "assistant", "tool")
MAX_MESSAGES = 50
SAMPLER_FIELDS = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "presence_penalty", "frequency_penalty")


class JSONForm(forms.Form):
    """A form fed from a JSON object: absent keys stay absent, so defaults can fill them."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        super().__init__(data={k: v for k, v in payload.items() if not isinstance(v, list | dict)})

    def full_clean(self) -> None:
        super().full_clean()
        # A list or object where a single value belongs (`"template": ["x"]`) is refused, not read as empty.
        for name in self.fields:
            if isinstance(self.payload.get(name), list | dict) and name not in self.errors:
                self.add_error(name, "A single value is required, not a list or an object.")

    def clean_messages_list(self) -> list[dict[str, str]] | None:
        messages = self.payload.get("messages")
        if messages is None:
            return None
        if not isinstance(messages, list) or not messages:
            raise forms.ValidationError("messages must be a non-empty list of {role, content} objects.")
        if len(messages) > MAX_MESSAGES:
            raise forms.ValidationError(f"At most {MAX_MESSAGES} messages.")
        cleaned, total = [], 0
        for index, message in enumerate(messages):
            if (
                not isinstance(message, dict)
                or message.get("role") not in ROLES
                or not isinstance(message.get("content"), str)
            ):
                raise forms.ValidationError(
                    f"Message {index + 1} needs a role ({', '.join(ROLES)}) and a text content."
                )
            total += len(message["content"])
            cleaned.append({"role": message["role"], "content": message["content"]})
        if total > settings.SANDBOX_MAX_PROMPT_CHARS:
            raise forms.ValidationError(
                f"The messages are longer than {settings.SANDBOX_MAX_PROMPT_CHARS:,} characters."
            )
        return cleaned


class ModelField(forms.CharField):
    def to_python(self, value: Any) -> SandboxModel | None:  # type: ignore[override]
        slug = super().to_python(value)
        if not slug:
            return None
        model = SandboxModel.objects.filter(slug=slug, available=True).first()
        if model is None:
            raise forms.ValidationError(f"No available model “{slug}”. GET /api/sandbox/models lists them.")
        return model


class TokenizeForm(JSONForm):
    model = ModelField()
    text = forms.CharField(strip=False, max_length=100_000, required=False)  # "" tokenizes to []
    special = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not isinstance(self.payload.get("text"), str):
            self.errors.setdefault("text", self.error_class(["text is required (a string, may be empty)."]))
        return cleaned


class RenderForm(JSONForm):
    model = ModelField()
    template = forms.CharField(required=False, strip=False, max_length=MAX_TEMPLATE_CHARS)
    enable_thinking = forms.NullBooleanField(required=False)
    add_generation_prompt = forms.NullBooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            cleaned["messages"] = self.clean_messages_list()
        except forms.ValidationError as exc:
            self.errors["messages"] = self.error_class(exc.messages)
        else:
            if cleaned["messages"] is None:
                self.errors["messages"] = self.error_class(["messages is required."])
        if "template" not in self.payload:
            cleaned["template"] = None
        return cleaned


class RunForm(RenderForm):
    prompt = forms.CharField(required=False, strip=False)
    parse_special = forms.BooleanField(required=False)
    temperature = forms.FloatField(required=False, min_value=0, max_value=2)
    top_k = forms.IntegerField(required=False, min_value=0, max_value=1000, help_text="0 turns top-k off")
    top_p = forms.FloatField(required=False, min_value=0.01, max_value=1)
    min_p = forms.FloatField(required=False, min_value=0, max_value=1)
    repeat_penalty = forms.FloatField(required=False, min_value=0.5, max_value=2)
    presence_penalty = forms.FloatField(required=False, min_value=-2, max_value=2)
    frequency_penalty = forms.FloatField(required=False, min_value=-2, max_value=2)
    max_tokens = forms.IntegerField(required=False, min_value=1)
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 2)
    top_n = forms.IntegerField(required=False, min_value=1, max_value=20)

    def clean_max_tokens(self) -> int:
        value = self.cleaned_data.get("max_tokens") or 128
        if value > settings.SANDBOX_MAX_TOKENS:
            raise forms.ValidationError(f"At most {settings.SANDBOX_MAX_TOKENS} tokens.")
        return value

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data.get("prompt") or ""
        if len(prompt) > settings.SANDBOX_MAX_PROMPT_CHARS:
            raise forms.ValidationError(f"The prompt is longer than {settings.SANDBOX_MAX_PROMPT_CHARS:,} characters.")
        return prompt

    def clean(self) -> dict[str, Any]:
        cleaned = forms.Form.clean(self)
        has_messages = self.payload.get("messages") is not None
        if has_messages == bool(cleaned.get("prompt")):
            self.errors.setdefault(
                "messages", self.error_class(["Send either messages (chat mode) or prompt (raw mode)."])
            )
            return cleaned
        if has_messages:
            try:
                cleaned["messages"] = self.clean_messages_list()
            except forms.ValidationError as exc:
                self.errors["messages"] = self.error_class(exc.messages)
        if "template" not in self.payload:
            cleaned["template"] = None
        return cleaned

    def run_request(self) -> dict[str, Any]:
        c = self.cleaned_data
        if c.get("messages") is not None:
            request: dict[str, Any] = {"messages": c["messages"], "enable_thinking": c.get("enable_thinking")}
            if c.get("template") is not None:
                request["template"] = c["template"]
            if c.get("add_generation_prompt") is not None:
                request["add_generation_prompt"] = c["add_generation_prompt"]
            return request
        return {"prompt": c["prompt"], "parse_special": c.get("parse_special", False)}

    def run_params(self) -> dict[str, Any]:
        c = self.cleaned_data
        params = default_params(c["model"], enable_thinking=c.get("enable_thinking"))
        for name in SAMPLER_FIELDS:
            if c.get(name) is not None:
                params[name] = c[name]
        params["max_tokens"] = c["max_tokens"]
        params["top_n"] = c.get("top_n") or 10
        return params
