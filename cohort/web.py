"""Helpers the cohort views share: where to go after a post, and a refusal shown on a form."""

from __future__ import annotations

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, fallback: str, target: str | None = None) -> str:
    """Where to go after a post: `target` (the posted `next` by default), if that is on this site."""
    target = request.POST.get("next", "") if target is None else target
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def form_add_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's refusal on the form: next to the field it names, else above the form."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for name, errors in exc.message_dict.items():
        form.add_error(name if name != NON_FIELD_ERRORS and name in form.fields else None, errors)
