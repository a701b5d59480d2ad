"""The dashboard's sandbox panel (the cohort app does not import inference)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from cohort.models import Membership
from inference.models import SandboxRun
from inference.selectors import AlignedToken

register = template.Library()


@register.inclusion_tag("inference/_recent_runs.html")
def recent_runs(membership: Membership, count: int = 3) -> dict[str, object]:
    runs = SandboxRun.objects.filter(membership=membership).select_related("model").order_by("-created_at")[:count]
    return {"runs": runs}


@register.filter
def pct(p: float | str | None) -> str:
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


def _token_cells(token: dict[str, Any] | None) -> str:
    if token is None:
        return '<td class="muted">(ended)</td><td></td>'
    return f"<td><code>{escape(visible(token.get('text', '')))}</code></td><td>{pct(token.get('p_model'))}</td>"


@register.simple_tag
def compare_rows(rows: Iterable[AlignedToken]) -> str:
    """The aligned token rows of the compare page, built in one pass: a template loop over
    two 512-token runs took most of the page's time."""
    html = []
    for row in rows:
        classes = "same" if row.same else "different"
        marker = ""
        if row.first_divergence:
            classes += ' first-divergence" id="first-divergence'
            marker = ' <span class="badge failure">first difference</span>'
        html.append(
            f'<tr class="{classes}"><th scope="row">{row.position}{marker}</th>'
            f"{_token_cells(row.a)}{_token_cells(row.b)}</tr>"
        )
    return mark_safe("\n".join(html))  # noqa: S308 - every value above is escaped or a number
