"""The dashboard's sandbox panel (the cohort app does not import inference)."""

from __future__ import annotations

from django import template

from inference.models import SandboxRun

register = template.Library()


@register.inclusion_tag("inference/_recent_runs.html")
def recent_runs(membership, count: int = 3):  # type: ignore[no-untyped-def]
    runs = SandboxRun.objects.filter(membership=membership).select_related("model").order_by("-created_at")[:count]
    return {"runs": runs}
