"""The dashboard's sandbox panel (the cohort app does not import inference)."""

from __future__ import annotations

from django import template

from inference.models import SandboxRun

register = template.Library()


@register.inclusion_tag("inference/_recent_runs.html")
def recent_runs(membership, count: int = 3):  # type: ignore[no-untyped-def]
    runs = SandboxRun.objects.filter(membership=membership).select_related("model").order_by("-created_at")[:count]
    return {"runs": runs}


@register.filter
def pct(p) -> str:  # type: ignore[no-untyped-def]
    """A probability as the sandbox shows it: 42.0%, 0.31%, –."""
    if p is None:
        return "–"
    value = float(p) * 100
    if value == 0:
        return "0%"
    return f"{value:.1f}%" if value >= 1 else f"{value:.2g}%"


@register.filter
def visible(text: str) -> str:
    """Whitespace a reader would otherwise not see inside a token, as in the sandbox's chips."""
    if text == "":
        return "∅"
    return text.replace("\r", "␍").replace("\n", "↵").replace("\t", "⇥")
