"""Calendar links for the office-hours pages, computed from objects the page already has (no queries)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.urls import reverse

from cohort.models import Cohort, Membership, OfficeHoursSession
from cohort.office_hours import calendars

register = template.Library()


@register.simple_tag
def calendar_feeds(membership: Membership) -> dict[str, str]:
    """The member's private feed URL (https and webcal forms), and the cohort feed for leads."""
    mine = calendars.member_feed_url(membership)
    feeds = {"member": mine, "member_webcal": calendars.webcal(mine)}
    if membership.role == "lead":
        shared = calendars.cohort_feed_url(membership.cohort)
        feeds |= {"cohort": shared, "cohort_webcal": calendars.webcal(shared)}
    return feeds


@register.simple_tag
def session_calendar_links(session: OfficeHoursSession, cohort: Cohort, topics: Iterable[Any] = ()) -> dict[str, str]:
    """The .ics download and a Google Calendar link; `topics` are the page's (SessionTopic or items with `.topic`)."""
    session_topics = [getattr(item, "topic", item) for item in topics]
    return {
        "ics": reverse("cohort:session_ics", args=[cohort.slug, session.number]),
        "google": calendars.google_calendar_url(session=session, cohort=cohort, topics=session_topics),
    }
