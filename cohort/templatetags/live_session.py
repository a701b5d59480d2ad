"""The session page's RSVP, attendance and help-queue panels.

The RSVP / check-in panel is what every learner comes for, so it is rendered
with the page (one query, whatever the number of RSVPs), and kept with the
announcements as cached fragments (`config.table_versions`) until a table they
read is written. The help queue and
the lead's attendance roster are placeholders htmx fills once the page has
loaded: they poll anyway, and the page stays a fixed number of queries. Each
placeholder carries the id of the panel that replaces it (hx-swap outerHTML)
and a link to the live page for a browser without JavaScript.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from cohort.models import (
    OfficeHoursSession,
    Role,
    SessionAnnouncement,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
    User,
)
from cohort.office_hours import live_selectors as selectors
from cohort.office_hours.live_forms import AttendanceCodeForm
from cohort.office_hours.live_services import session_is_over
from config.table_versions import form_fragment

register = template.Library()

_TEMPLATES = "cohort/office_hours/"


def _panel(context: template.Context, **extra: object) -> dict[str, object]:
    # An inclusion tag starts from an empty context (only csrf_token is carried over): everything the
    # panel templates read must be passed here, `user` included (its time zone formats check-in times).
    return {
        "user": context.get("user"),
        "cohort": context["cohort"],
        "session": context["session"],
        "membership": context["membership"],
        **extra,
    }


# Every table `selectors.rsvp_summary` reads: the RSVP count and the viewer's RSVP and check-in, counted
# from the session's row.
RSVP_PANEL_TABLES = (OfficeHoursSession, SessionRSVP, SessionAttendance)


def _zone(context: template.Context) -> str:
    return str(getattr(context.get("user"), "timezone", "UTC"))


def cohort_slug(context: template.Context) -> str:
    return str(context["cohort"].slug)


@register.simple_tag(takes_context=True)
def rsvp_panel(context: template.Context) -> SafeString:
    """The viewer's RSVP and check-in panel, cached until an RSVP, a check-in or the session row is written.

    Personal (their RSVP, their check-in time in their zone, the lead's code), so
    keyed by the viewer; by whether the session is over too, the one thing in it
    that time alone changes. The panel endpoints (live_views) render it fresh.
    """
    session, membership = context["session"], context["membership"]
    request: HttpRequest = context["request"]
    now = timezone.now()
    is_over = session_is_over(session, now)

    def render_panel(csrf_token: str) -> str:
        panel = selectors.rsvp_summary(session=session, viewer=membership, now=now)
        extra = {"panel": panel, "attendance_form": AttendanceCodeForm(), "now": now, "csrf_token": csrf_token}
        return render_to_string(_TEMPLATES + "_rsvp_panel.html", _panel(context, **extra))

    return form_fragment(
        request,
        "session-rsvp-panel:v1",
        tables=RSVP_PANEL_TABLES,
        key=[session.pk, session.number, cohort_slug(context), membership.pk, membership.role]
        + [is_over, _zone(context), get_language()],
        render=render_panel,
    )


@register.inclusion_tag(_TEMPLATES + "_help_queue_loader.html", takes_context=True)
def help_queue_panel(context: template.Context) -> dict[str, object]:
    session, membership = context["session"], context["membership"]
    # After the session a learner has nothing to do in the queue; leads and mentors still see who was helped.
    show = membership.is_staff_role or session.status != SessionStatus.ENDED
    return _panel(context, show=show)


@register.inclusion_tag(_TEMPLATES + "_attendance_loader.html", takes_context=True)
def attendance_roster(context: template.Context) -> dict[str, object]:
    return _panel(context, show=context["membership"].role == Role.LEAD)


@register.inclusion_tag(_TEMPLATES + "_wait_stats.html", takes_context=True)
def wait_stats_panel(context: template.Context) -> dict[str, object]:
    """After the session, how the queue went (one query); nothing before."""
    session = context["session"]
    if session.status != SessionStatus.ENDED:
        return _panel(context, stats=None)
    return _panel(context, stats=selectors.wait_stats(session=session))


@register.inclusion_tag(_TEMPLATES + "_live_pulse.html", takes_context=True)
def live_pulse(context: template.Context) -> dict[str, object]:
    """The page's one poll ("anything new?"), keyed from the session row already loaded: no query."""
    session, membership = context["session"], context["membership"]
    now = timezone.now()
    return _panel(
        context,
        pulse_key=selectors.live_key(session=session, viewer=membership, now=now),
        pulse_interval=selectors.pulse_interval(session, now),
    )


@register.inclusion_tag(_TEMPLATES + "_live_status.html", takes_context=True)
def live_status(context: template.Context) -> dict[str, object]:
    """The "live now" banner under the session header, with a link to the live page."""
    return _panel(context, now=timezone.now(), on_live_page=context.get("on_live_page", False))


# Every table `selectors.announcements` reads. Not the session's row: the panel shows only its status, in the key.
ANNOUNCEMENTS_TABLES = (SessionAnnouncement, User)


@register.simple_tag(takes_context=True)
def live_announcements(context: template.Context) -> SafeString:
    """The lead's announcements, cached until one is posted or removed; a lead's copy has the forms."""
    session, membership = context["session"], context["membership"]
    request: HttpRequest = context["request"]

    def render_announcements(csrf_token: str) -> str:
        found = selectors.announcements(session=session)
        extra = {"announcements": found, "csrf_token": csrf_token}
        return render_to_string(_TEMPLATES + "_announcements.html", _panel(context, **extra))

    return form_fragment(
        request,
        "session-announcements:v1",
        tables=ANNOUNCEMENTS_TABLES,
        key=[session.pk, session.number, session.status, cohort_slug(context), membership.role == Role.LEAD]
        + [_zone(context), get_language()],
        render=render_announcements,
    )


@register.simple_tag
def live_status_key(session: OfficeHoursSession, now: dt.datetime | None = None) -> str:
    return selectors.status_key(session, now or timezone.now())


@register.simple_tag
def live_session_assets() -> SafeString:
    """The panels' stylesheet and script, for the page's <head> (the script is deferred: it runs after parsing)."""
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script>',
        static("css/live_session.css"),
        static("js/live-session.js"),
    )
