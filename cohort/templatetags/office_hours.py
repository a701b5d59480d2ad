"""Office-hours pieces other cohort pages include (dashboard panel, step page list) and session times."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import dateformat
from django.utils.html import format_html
from django.utils.safestring import SafeString

from cohort.models import Cohort, Membership, OfficeHoursSession, RoadmapStep
from cohort.office_hours import selectors
from cohort.zones import zone_or_utc

register = template.Library()


@register.simple_tag(takes_context=True)
def session_time(context: template.Context, session: OfficeHoursSession, cohort: Cohort) -> SafeString:
    """“Fri 13 Mar 2026, 17:00–18:00 GMT” on the viewer's clock, then the cohort's clock if it differs."""
    user = context.get("user")
    viewer_zone = zone_or_utc(getattr(user, "timezone", "UTC"))
    cohort_zone = zone_or_utc(cohort.timezone)
    start, end = session.starts_at.astimezone(viewer_zone), session.ends_at.astimezone(viewer_zone)
    mine = f"{dateformat.format(start, 'D j M Y, H:i')}–{dateformat.format(end, 'H:i T')}"
    here = format_html('<time datetime="{}">{}</time>', session.starts_at.astimezone(dt.UTC).isoformat(), mine)
    if cohort_zone.key == viewer_zone.key or start.utcoffset() == session.starts_at.astimezone(cohort_zone).utcoffset():
        return here
    local = session.starts_at.astimezone(cohort_zone)
    pattern = "H:i T" if local.date() == start.date() else "D j M, H:i T"
    return format_html('{} <span class="muted">({} cohort time)</span>', here, dateformat.format(local, pattern))


@register.inclusion_tag("cohort/office_hours/_dashboard_panel.html", takes_context=True)
def office_hours_panel(context: template.Context, membership: Membership) -> dict[str, object]:
    return {
        "user": context.get("user"),
        "cohort": membership.cohort,
        "membership": membership,
        "panel": selectors.office_hours_panel(cohort=membership.cohort),
    }


@register.inclusion_tag("cohort/office_hours/_step_topics.html", takes_context=True)
def step_office_hours(context: template.Context, membership: Membership, step: RoadmapStep) -> dict[str, object]:
    return {
        "user": context.get("user"),
        "cohort": membership.cohort,
        "step": step,
        "topics": selectors.topics_for_step(step=step),
    }
