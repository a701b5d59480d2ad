"""What the live views share: sign-in for polls, the panels' contexts, and the answer to a plain post.

The live page and each panel endpoint (`live_views`, `queue_views`) build their
templates' context here, so a panel looks the same whichever request drew it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cohort.htmx import is_htmx
from cohort.models import HelpResolution, Membership, OfficeHoursSession, Role
from cohort.office_hours import live_selectors as selectors
from cohort.office_hours import live_services as services
from cohort.office_hours import queue_selectors
from cohort.office_hours.live_forms import (
    AttendanceCodeForm,
    HelpRequestForm,
    HelpRoomForm,
)

TEMPLATES = "cohort/office_hours/"
# Modes in which the learner's queue panel shows no queue yet (or any more): moving in or out of them means
# the session itself started or ended, so the RSVP and check-in panel is told to refresh too.
NOT_LIVE_MODES = {"soon", "closed"}


def signed_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`login_required`, except that an htmx request (a poll from a tab whose login expired) reloads the page.

    Following the login redirect would swap the login form into a panel.
    """
    protected = login_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_authenticated and is_htmx(request):
            return HttpResponse(status=204, headers={"HX-Refresh": "true"})
        return protected(request, *args, **kwargs)

    return wrapper


def unchanged() -> HttpResponse:
    # htmx leaves the page as it is on 204: nothing re-rendered, an open capsule stays open.
    return HttpResponse(status=204)


def live_url(session: OfficeHoursSession, anchor: str) -> str:
    return reverse("cohort:session_live", args=[session.cohort.slug, session.number]) + f"#{anchor}"


def after_plain_post(
    request: HttpRequest, session: OfficeHoursSession, anchor: str, *, error: str, notice: str
) -> HttpResponse:
    """A post without htmx (no JavaScript): back to the live page, with what happened as a message."""
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect(live_url(session, anchor))


def panel_answer(
    request: HttpRequest,
    session: OfficeHoursSession,
    *,
    anchor: str,
    template: str,
    context: Callable[[], dict[str, object]],
    error: str = "",
    notice: str = "",
    invalid: bool = False,
) -> HttpResponse:
    """The answer to a panel's post: htmx gets the panel again (400 when refused), a plain post the live page."""
    if not is_htmx(request):
        return after_plain_post(request, session, anchor, error=error, notice=notice)
    return render_panel(request, template, context(), status=400 if error or invalid else 200)


# --- Panel contexts (shared by the panel endpoints and the live page) ---------------------------


def base_context(
    request: HttpRequest, membership: Membership, session: OfficeHoursSession, *, now: dt.datetime | None = None
) -> dict[str, object]:
    return {"membership": membership, "cohort": membership.cohort, "session": session, "now": now or timezone.now()}


def rsvp_context(
    request: HttpRequest,
    membership: Membership,
    session: OfficeHoursSession,
    *,
    form: AttendanceCodeForm | None = None,
    error: str = "",
    notice: str = "",
) -> dict[str, object]:
    return {
        **base_context(request, membership, session),
        "panel": selectors.rsvp_summary(session=session, viewer=membership),
        "attendance_form": form or AttendanceCodeForm(),
        "error": error,
        "notice": notice,
    }


def roster_context(
    request: HttpRequest, membership: Membership, session: OfficeHoursSession, *, error: str = ""
) -> dict[str, object]:
    now = timezone.now()
    return {
        **base_context(request, membership, session, now=now),
        "roster": selectors.roster_for(session=session),
        "can_mark": services.session_has_started(session, now),
        "error": error,
    }


def first_time_first(request: HttpRequest) -> bool:
    return (request.POST.get("first") or request.GET.get("first")) == "1"


def queue_context(
    request: HttpRequest,
    membership: Membership,
    session: OfficeHoursSession,
    *,
    form: HelpRequestForm | None = None,
    error: str = "",
    notice: str = "",
) -> dict[str, object]:
    context = {**base_context(request, membership, session), "error": error, "notice": notice}
    if membership.is_staff_role:
        context["queue"] = queue_selectors.staff_queue(session=session, first_time_first=first_time_first(request))
        context["staff"] = True
        context["resolutions"] = HelpResolution.choices
        # One reverse() for the list; each request's actions are "<queue_url><id>/take/" and so on.
        context["queue_url"] = reverse("cohort:help_queue", args=[session.cohort.slug, session.number])
        context["help_room_form"] = HelpRoomForm(initial={"help_room_url": session.help_room_url})
    else:
        context["queue"] = queue_selectors.learner_queue(session=session, viewer=membership)
        context["form"] = form or HelpRequestForm()
    return context


def render_panel(request: HttpRequest, template: str, context: dict[str, object], *, status: int = 200) -> HttpResponse:
    return render(request, TEMPLATES + template, context, status=status)


# --- The live page (the panels without JavaScript) ----------------------------------------------


def render_live_page(
    request: HttpRequest,
    membership: Membership,
    session: OfficeHoursSession,
    *,
    queue_form: HelpRequestForm | None = None,
    status: int = 200,
) -> HttpResponse:
    # Each panel is rendered with its own context (they share names such as `error`), then placed on the page.
    panels = {
        "rsvp_html": render_to_string(
            TEMPLATES + "_rsvp_panel.html", rsvp_context(request, membership, session), request=request
        ),
        "queue_html": render_to_string(
            TEMPLATES + "_help_queue.html", queue_context(request, membership, session, form=queue_form), request
        ),
        "roster_html": render_to_string(
            TEMPLATES + "_attendance_roster.html", roster_context(request, membership, session), request=request
        )
        if membership.role == Role.LEAD
        else "",
    }
    # render_to_string returns escaped-and-safe HTML (a SafeString): the page inserts it as it is.
    context = {**base_context(request, membership, session), **panels, "on_live_page": True}
    return render_panel(request, "attendance_live.html", context, status=status)
