"""The session page's RSVP, attendance and help-queue panels, as placeholders htmx fills on load.

They read only the session and membership the page already has, so the page
runs no query for them, however many RSVPs, check-ins or requests there are.
Each placeholder carries the id of the panel that replaces it (hx-swap
outerHTML) and a link to the live page for a browser without JavaScript.
"""

from __future__ import annotations

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

from cohort.models import Role, SessionStatus

register = template.Library()

_TEMPLATES = "cohort/office_hours/"


def _panel(context: template.Context, **extra: object) -> dict[str, object]:
    return {"cohort": context["cohort"], "session": context["session"], "membership": context["membership"], **extra}


@register.inclusion_tag(_TEMPLATES + "_rsvp_loader.html", takes_context=True)
def rsvp_panel(context: template.Context) -> dict[str, object]:
    return _panel(context)


@register.inclusion_tag(_TEMPLATES + "_help_queue_loader.html", takes_context=True)
def help_queue_panel(context: template.Context) -> dict[str, object]:
    session, membership = context["session"], context["membership"]
    # After the session a learner has nothing to do in the queue; leads and mentors still see who was helped.
    show = membership.is_staff_role or session.status != SessionStatus.ENDED
    return _panel(context, show=show)


@register.inclusion_tag(_TEMPLATES + "_attendance_loader.html", takes_context=True)
def attendance_roster(context: template.Context) -> dict[str, object]:
    return _panel(context, show=context["membership"].role == Role.LEAD)


@register.simple_tag
def live_session_assets() -> SafeString:
    """The panels' stylesheet, for the page's <head>."""
    return format_html('<link rel="stylesheet" href="{}">', static("css/live_session.css"))
