"""The dashboard's sandbox panel (the cohort app does not import inference)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.templatetags.static import static
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from cohort.models import Membership
from config.static_modules import dependencies
from inference.models import SandboxRun
from inference.selectors import AlignedToken

register = template.Library()


@register.inclusion_tag("inference/_recent_runs.html")
def recent_runs(membership: Membership, count: int = 3) -> dict[str, object]:
    # Only what the panel shows: a run's tokens, prompt and timings are JSON of up to hundreds of KB,
    # and decoding two 512-token runs was a third of the dashboard's CPU.
    runs = (
        SandboxRun.objects.filter(membership=membership)
        .select_related("model")
        .only("status", "seed", "params", "error", "output_text", "created_at", "model__slug")
        .order_by("-created_at")[:count]
    )
    return {"runs": runs}


@register.filter
def pct(p: float | str | None) -> str:
    """A probability as every sandbox page shows it (static/js/lib/format.js pct): 42.0%, 0.31%, <0.001%, –."""
    if p is None:
        return "–"
    value = float(p) * 100
    if value == 0:
        return "0%"
    if value == 100:
        return "100%"
    if 99.95 <= value < 100:
        return "99.9%"
    if value >= 1:
        return f"{value:.1f}%"
    if value < 0.001:
        return "<0.001%"
    return f"{float(f'{value:.2g}'):g}%"


@register.filter
def si_size(size: float | str | None) -> str:
    """Bytes in decimal units, as the model picker and the labs write them (1 MB = 1,000,000 bytes)."""
    if not size:
        return "–"
    value, units = float(size), ["B", "kB", "MB", "GB"]
    while value >= 1000 and len(units) > 1:
        value /= 1000
        units.pop(0)
    return f"{value:.1f} {units[0]}" if units[0] != "B" and value < 10 else f"{value:.0f} {units[0]}"


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


@register.simple_tag
def module_script(entry: str) -> str:
    """A page's entry module, and a modulepreload link for every module it imports (one round trip)."""
    tags = [format_html('<script type="module" src="{}"></script>', static(entry))]
    tags += [format_html('<link rel="modulepreload" href="{}">', static(path)) for path in dependencies(entry)]
    return mark_safe("\n  ".join(tags))  # noqa: S308 - each tag is built by format_html
