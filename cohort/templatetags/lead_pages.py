"""Row pieces of the lead pages built in Python: a 50-row table of template tags per cell was most of their CPU.

Each tag returns escaped HTML (`format_html`), so nothing here trusts learner text.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from cohort.models import Cohort, Membership, ProgressStatus
from cohort.selectors import StepWithProgress

register = template.Library()

_STATUS_LABELS = {status.value: status.label for status in ProgressStatus}
_CELL = '<td class="cell {}"><span class="dot" aria-hidden="true"></span><span class="cell-label">{}</span></td>'


@register.simple_tag
def progress_cells(steps: Iterable[StepWithProgress]) -> SafeString:
    """One cell per roadmap step of a learner's row (the overview matrix)."""
    return format_html_join("", _CELL, ((s.status, _STATUS_LABELS.get(s.status, s.status)) for s in steps))


@register.simple_tag(takes_context=True)
def learner_url(context: template.Context, cohort: Cohort, membership_id: int) -> str:
    """The per-learner page of `membership_id`; one reverse() per page render, not one per row."""
    cache: dict[str, str] | None = context.render_context.get("learner_url_prefix")
    if cache is None:
        cache = context.render_context["learner_url_prefix"] = {}
    prefix = cache.get(cohort.slug)
    if prefix is None:
        # Reverse with a placeholder id and keep what precedes it; the id is the last path segment.
        prefix = cache[cohort.slug] = reverse("cohort:learner_detail", args=[cohort.slug, 0])[: -len("0/")]
    return f"{prefix}{int(membership_id)}/"


@register.simple_tag(takes_context=True)
def learner_link(context: template.Context, cohort: Cohort, membership: Membership, css_class: str = "") -> SafeString:
    """The learner's name linking to their page, as every lead page shows it."""
    url = learner_url(context, cohort, membership.pk)
    if css_class:
        return format_html('<a class="{}" href="{}">{}</a>', css_class, url, membership.user.display_name)
    return format_html('<a href="{}">{}</a>', url, membership.user.display_name)


# strftime is several times cheaper than Django's `date` filter (which localizes each part), and a
# 50-row table formats 150 dates. The site is in English, so the names are the same.
_FORMATS = {
    "day": "%-d %b",
    "short": "%a %-d %b, %H:%M",
    "short_tz": "%a %-d %b, %H:%M %Z",
}


@register.simple_tag
def time_tag(value: dt.datetime | None, zone: str, style: str = "short_tz") -> SafeString:
    """`<time datetime="…">Mon 3 Mar, 17:00 GMT</time>` in `zone`; an empty string for no value."""
    if value is None:
        return SafeString("")
    local = value.astimezone(_zone(zone))
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), local.strftime(_FORMATS[style]))


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@register.simple_tag
def tz_text(value: dt.datetime | None, zone: str, style: str = "short") -> str:
    """The same formatting as `time_tag`, as plain text."""
    return "" if value is None else value.astimezone(_zone(zone)).strftime(_FORMATS[style])
