"""RSVP, check-in, attendance and help-queue views: thin, over `cohort.live_sessions` and its selectors.

The session page shows these panels through `cohort.templatetags.live_session`:
the RSVP / check-in panel in the page itself (one query), the help queue and the
lead's roster as placeholders htmx fills from the panel endpoints here. The live page
(`sessions/<n>/live/`) renders the same panels in full for a browser without
JavaScript, and plain (non-htmx) form posts come back to it.

Every view finds the membership first (another cohort: 404; a lead action asked
by a learner: 403), then looks objects up inside that cohort and session.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cohort import live_session_selectors as selectors
from cohort import live_sessions as services
from cohort.access import lead_or_403, member_or_404, session_or_404, staff_or_403
from cohort.htmx import is_htmx
from cohort.http import AuthedRequest
from cohort.live_session_forms import (
    AnnouncementForm,
    CheckInForm,
    HelpNoteForm,
    HelpRequestForm,
    HelpRoomForm,
    MarkAttendanceForm,
)
from cohort.models import HelpRequest, HelpResolution, Membership, OfficeHoursSession, Role, SessionStatus

_TEMPLATES = "cohort/office_hours/"
# Modes in which the learner's queue panel shows no queue yet (or any more): moving in or out of them means
# the session itself started or ended, so the RSVP and check-in panel is told to refresh too.
_NOT_LIVE_MODES = {"soon", "closed"}


def _signed_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
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


def _unchanged() -> HttpResponse:
    # htmx leaves the page as it is on 204: nothing re-rendered, an open capsule stays open.
    return HttpResponse(status=204)


def _live_url(session: OfficeHoursSession, anchor: str) -> str:
    return reverse("cohort:session_live", args=[session.cohort.slug, session.number]) + f"#{anchor}"


def _after_plain_post(
    request: HttpRequest, session: OfficeHoursSession, anchor: str, *, error: str, notice: str
) -> HttpResponse:
    """A post without htmx (no JavaScript): back to the live page, with what happened as a message."""
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect(_live_url(session, anchor))


# --- Panel contexts (shared by the panel endpoints and the live page) ---------------------------


def _base(request: HttpRequest, membership: Membership, session: OfficeHoursSession) -> dict[str, Any]:
    return {"membership": membership, "cohort": membership.cohort, "session": session, "now": timezone.now()}


def _rsvp_context(
    request: HttpRequest,
    membership: Membership,
    session: OfficeHoursSession,
    *,
    form: CheckInForm | None = None,
    error: str = "",
    notice: str = "",
) -> dict[str, Any]:
    return {
        **_base(request, membership, session),
        "panel": selectors.rsvp_panel(session=session, viewer=membership),
        "check_in_form": form or CheckInForm(),
        "error": error,
        "notice": notice,
    }


def _roster_context(
    request: HttpRequest, membership: Membership, session: OfficeHoursSession, *, error: str = ""
) -> dict[str, Any]:
    context = _base(request, membership, session)
    return {
        **context,
        "roster": selectors.attendance_roster(session=session),
        "can_mark": services.session_has_started(session, context["now"]),
        "error": error,
    }


def _first_time_first(request: HttpRequest) -> bool:
    return (request.POST.get("first") or request.GET.get("first")) == "1"


def _queue_context(
    request: HttpRequest,
    membership: Membership,
    session: OfficeHoursSession,
    *,
    form: HelpRequestForm | None = None,
    error: str = "",
    notice: str = "",
) -> dict[str, object]:
    context = {**_base(request, membership, session), "error": error, "notice": notice}
    if membership.is_staff_role:
        context["queue"] = selectors.staff_queue(session=session, first_time_first=_first_time_first(request))
        context["staff"] = True
        context["resolutions"] = HelpResolution.choices
        # One reverse() for the list; each request's actions are "<queue_url><id>/take/" and so on.
        context["queue_url"] = reverse("cohort:help_queue", args=[session.cohort.slug, session.number])
        context["help_room_form"] = HelpRoomForm(initial={"help_room_url": session.help_room_url})
    else:
        context["queue"] = selectors.learner_queue(session=session, viewer=membership)
        context["form"] = form or HelpRequestForm()
    return context


def _render(request: HttpRequest, template: str, context: dict[str, object], *, status: int = 200) -> HttpResponse:
    return render(request, _TEMPLATES + template, context, status=status)


# --- The live page (the panels without JavaScript) ----------------------------------------------


def _render_live_page(
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
            _TEMPLATES + "_rsvp_panel.html", _rsvp_context(request, membership, session), request=request
        ),
        "queue_html": render_to_string(
            _TEMPLATES + "_help_queue.html", _queue_context(request, membership, session, form=queue_form), request
        ),
        "roster_html": render_to_string(
            _TEMPLATES + "_attendance_roster.html", _roster_context(request, membership, session), request=request
        )
        if membership.role == Role.LEAD
        else "",
    }
    # render_to_string returns escaped-and-safe HTML (a SafeString): the page inserts it as it is.
    context = {**_base(request, membership, session), **panels, "on_live_page": True}
    return _render(request, "attendance_live.html", context, status=status)


@_signed_in
@require_GET
def session_live(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    return _render_live_page(request, membership, session_or_404(membership, number))


# --- RSVP and check-in --------------------------------------------------------------------------


@_signed_in
@require_GET
def rsvp_panel(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    if not is_htmx(request):
        return redirect(_live_url(session, "rsvp-panel"))
    return _render(request, "_rsvp_panel.html", _rsvp_context(request, membership, session))


@_signed_in
@require_POST
def rsvp(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    cancel = bool(request.POST.get("cancel"))
    error = notice = ""
    try:
        if cancel:
            changed = services.rsvp_cancel(session=session, membership=membership)
            notice = "RSVP cancelled." if changed else "You had not RSVP'd."
        else:
            changed = services.rsvp_add(session=session, membership=membership)
            notice = "You're going: see you there." if changed else "You had already RSVP'd."
    except ValidationError as exc:
        error = exc.messages[0]
    if not is_htmx(request):
        return _after_plain_post(request, session, "rsvp-panel", error=error, notice=notice)
    context = _rsvp_context(request, membership, session, error=error, notice=notice)
    return _render(request, "_rsvp_panel.html", context, status=400 if error else 200)


@_signed_in
@require_POST
def check_in(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    form = CheckInForm(request.POST)
    error = notice = ""
    if form.is_valid():
        try:
            created = services.attendance_check_in(
                session=session, membership=membership, code=form.cleaned_data["code"]
            )
        except ValidationError as exc:
            # A wrong code belongs next to the field; "not live" to the panel, which then shows no form.
            if session.status == SessionStatus.LIVE:
                form.add_error("code", exc.messages[0])
            else:
                error = exc.messages[0]
        else:
            notice = "You're checked in. Welcome!" if created else "You were already checked in."
    if not is_htmx(request):
        error = error or str(next(iter(form.errors.get("code", [])), ""))
        return _after_plain_post(request, session, "rsvp-panel", error=error, notice=notice)
    context = _rsvp_context(
        request, membership, session, form=form if form.errors else None, error=error, notice=notice
    )
    return _render(request, "_rsvp_panel.html", context, status=400 if form.errors or error else 200)


# --- Lead: attendance ---------------------------------------------------------------------------


@_signed_in
@require_GET
def attendance_roster(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    if not is_htmx(request):
        return redirect(_live_url(session, "attendance-roster"))
    context = _roster_context(request, membership, session)
    if request.GET.get("v") == context["roster"].key:
        return _unchanged()
    return _render(request, "_attendance_roster.html", context)


@_signed_in
@require_POST
def attendance_mark(request: AuthedRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    form = MarkAttendanceForm(request.POST, session=session)
    error = notice = ""
    if not form.is_valid():
        error = "Pick a learner of this cohort."
    else:
        member = form.cleaned_data["membership"]
        try:
            if form.cleaned_data["remove"]:
                services.attendance_unmark(session=session, membership=member)
                notice = f"{member.user.display_name} is no longer marked present."
            else:
                services.attendance_mark(session=session, membership=member, by=request.user)
                notice = f"{member.user.display_name} is marked present."
        except ValidationError as exc:
            error = exc.messages[0]
    if not is_htmx(request):
        return _after_plain_post(request, session, "attendance-roster", error=error, notice=notice)
    context = _roster_context(request, membership, session, error=error)
    return _render(request, "_attendance_roster.html", context, status=400 if error else 200)


# --- Help queue ---------------------------------------------------------------------------------


@_signed_in
@require_GET
def help_queue(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    """The queue panel; polled by the page with the key of what it shows (`v`), answered 204 when unchanged.

    A learner's page polls only the status line (their position), so a description
    being typed is never swapped away; when their mode changes (the session went
    live, a lead finished their request) the whole panel is sent instead.
    """
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    if not is_htmx(request):
        return redirect(_live_url(session, "help-queue"))
    seen, seen_mode = request.GET.get("v"), request.GET.get("m")
    if membership.is_staff_role:
        if seen:
            key, _poll = selectors.staff_queue_key(session=session, first_time_first=_first_time_first(request))
            if key == seen:
                return _unchanged()
        return _render(request, "_help_queue.html", _queue_context(request, membership, session))
    queue = selectors.learner_queue(session=session, viewer=membership)
    if seen == queue.key:
        return _unchanged()
    if seen_mode == queue.mode:
        return _render(request, "_help_queue_status.html", {**_base(request, membership, session), "queue": queue})
    response = _render(request, "_help_queue.html", _queue_context(request, membership, session))
    if seen_mode:
        response["HX-Retarget"] = "#help-queue"
        response["HX-Reswap"] = "outerHTML"
        if {seen_mode, queue.mode} & _NOT_LIVE_MODES:
            response["HX-Trigger"] = "live-session-changed"
    return response


def _after_queue_post(
    request: HttpRequest,
    membership: Membership,
    session: OfficeHoursSession,
    *,
    error: str = "",
    notice: str = "",
    form: HelpRequestForm | None = None,
) -> HttpResponse:
    if not is_htmx(request):
        return _after_plain_post(request, session, "help-queue", error=error, notice=notice)
    context = _queue_context(request, membership, session, form=form, error=error, notice=notice)
    return _render(request, "_help_queue.html", context, status=400 if error or (form and form.errors) else 200)


@_signed_in
@require_POST
def help_queue_join(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    form = HelpRequestForm(request.POST)
    if not form.is_valid():
        if not is_htmx(request):
            # Without JavaScript a redirect would lose what was typed: the live page again, with the errors.
            return _render_live_page(request, membership, session, queue_form=form, status=400)
        return _after_queue_post(request, membership, session, form=form)
    try:
        _request, created = services.help_request_join(
            session=session,
            membership=membership,
            description=form.cleaned_data["description"],
            capsule=form.capsule(),
        )
    except ValidationError as exc:
        return _after_queue_post(request, membership, session, error=exc.messages[0], form=form)
    notice = "You joined the queue." if created else "You are already in the queue: your place has not changed."
    return _after_queue_post(request, membership, session, notice=notice)


@_signed_in
@require_POST
def help_queue_leave(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    left = services.help_request_leave(session=session, membership=membership)
    notice = "You left the queue." if left else "You were not in the queue."
    return _after_queue_post(request, membership, session, notice=notice)


def _help_request_or_404(session: OfficeHoursSession, request_id: int) -> HelpRequest:
    help_request = selectors.help_request_for(session=session, request_id=request_id)
    if help_request is None:
        raise Http404("No such help request")
    return help_request


_NOTE_REFUSED = "Keep the note under 1000 characters and pick a listed tag."


def _staff_queue_action(
    request: HttpRequest,
    cohort_slug: str,
    number: int,
    request_id: int,
    act: Callable[[OfficeHoursSession, HelpRequest], str],
) -> HttpResponse:
    """A lead or mentor acts on one request: `act` returns the notice or raises a ValidationError to show."""
    membership = staff_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    help_request = _help_request_or_404(session, request_id)
    try:
        notice = act(session, help_request)
    except ValidationError as exc:
        return _after_queue_post(request, membership, session, error=exc.messages[0])
    return _after_queue_post(request, membership, session, notice=notice)


def _note_form(request: HttpRequest) -> HelpNoteForm:
    form = HelpNoteForm(request.POST)
    if not form.is_valid():
        raise ValidationError(_NOTE_REFUSED)
    return form


@_signed_in
@require_POST
def help_request_take(request: AuthedRequest, cohort_slug: str, number: int, request_id: int) -> HttpResponse:
    def act(session: OfficeHoursSession, help_request: HelpRequest) -> str:
        services.help_request_take(session=session, request=help_request, helper=request.user)
        return f"You are helping {help_request.membership.user.display_name}."

    return _staff_queue_action(request, cohort_slug, number, request_id, act)


@_signed_in
@require_POST
def help_request_finish(request: HttpRequest, cohort_slug: str, number: int, request_id: int) -> HttpResponse:
    def act(session: OfficeHoursSession, help_request: HelpRequest) -> str:
        form = _note_form(request)
        services.help_request_finish(
            session=session,
            request=help_request,
            resolution=form.cleaned_data["resolution"],
            # A finish without the note field (an older page) keeps the note as it is.
            note=form.cleaned_data["note"] if "note" in request.POST else None,
        )
        return f"Done with {help_request.membership.user.display_name}."

    return _staff_queue_action(request, cohort_slug, number, request_id, act)


@_signed_in
@require_POST
def help_request_put_back(request: HttpRequest, cohort_slug: str, number: int, request_id: int) -> HttpResponse:
    def act(session: OfficeHoursSession, help_request: HelpRequest) -> str:
        services.help_request_put_back(session=session, request=help_request)
        return f"{help_request.membership.user.display_name} is back in the queue, at their place."

    return _staff_queue_action(request, cohort_slug, number, request_id, act)


@_signed_in
@require_POST
def help_request_annotate(request: HttpRequest, cohort_slug: str, number: int, request_id: int) -> HttpResponse:
    def act(session: OfficeHoursSession, help_request: HelpRequest) -> str:
        form = _note_form(request)
        services.help_request_annotate(
            session=session,
            request=help_request,
            note=form.cleaned_data["note"],
            resolution=form.cleaned_data["resolution"],
        )
        return "Note saved."

    return _staff_queue_action(request, cohort_slug, number, request_id, act)


@_signed_in
@require_POST
def help_room_set(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    form = HelpRoomForm(request.POST)
    if not form.is_valid():
        return _after_queue_post(request, membership, session, error="That is not a web link (https://…).")
    services.session_set_help_room(session=session, url=form.cleaned_data["help_room_url"])
    notice = "Help room link saved." if session.help_room_url else "Help room link removed."
    return _after_queue_post(request, membership, session, notice=notice)


# --- Announcements ------------------------------------------------------------------------------


def _announcements_response(
    request: HttpRequest, membership: Membership, session: OfficeHoursSession, *, error: str = "", notice: str = ""
) -> HttpResponse:
    if not is_htmx(request):
        return _after_plain_post(request, session, "announcements", error=error, notice=notice)
    context = {
        **_base(request, membership, session),
        "announcements": selectors.announcements(session=session),
        "error": error,
    }
    return _render(request, "_announcements.html", context, status=400 if error else 200)


@_signed_in
@require_POST
def announcement_post(request: AuthedRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    form = AnnouncementForm(request.POST)
    if not form.is_valid():
        return _announcements_response(request, membership, session, error=str(form.errors["body"][0]))
    try:
        services.announcement_post(session=session, author=request.user, body=form.cleaned_data["body"])
    except ValidationError as exc:
        return _announcements_response(request, membership, session, error=exc.messages[0])
    return _announcements_response(request, membership, session, notice="Announcement posted.")


@_signed_in
@require_POST
def announcement_delete(request: HttpRequest, cohort_slug: str, number: int, announcement_id: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    if not services.announcement_delete(session=session, announcement_id=announcement_id):
        raise Http404("No such announcement")
    return _announcements_response(request, membership, session, notice="Announcement removed.")


# --- The live poll ------------------------------------------------------------------------------


def _changed(request: HttpRequest, name: str, key: str) -> bool:
    """The page shows this part (it sent its key) and what it shows is out of date."""
    seen = request.GET.get(name)
    return seen is not None and seen != key


@_signed_in
@require_GET
def live_state(request: AuthedRequest, cohort_slug: str, number: int) -> HttpResponse:
    """The session and live pages' one poll: 204 while nothing changed, else the changed panels (out of band).

    The fast path compares `v` with a key made from the session row alone (no
    query beyond finding the member and the session). When it differs, each
    panel the page sent a key for is checked and sent only if its own key
    changed, so a form being typed in an unchanged panel is left alone.
    """
    now = timezone.now()
    seen = request.GET.get("v")
    if seen and is_htmx(request):
        probed = selectors.live_probe(user_id=request.user.pk, cohort_slug=cohort_slug, number=number, now=now)
        if probed == seen:
            return _unchanged()
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    if not is_htmx(request):
        return redirect(_live_url(session, "live-status"))
    key = selectors.live_key(session=session, viewer=membership, now=now)
    if seen == key:
        return _unchanged()
    parts: list[str] = []
    if _changed(request, "s", selectors.status_key(session, now)):
        context = {
            **_base(request, membership, session),
            "oob": True,
            "on_live_page": request.GET.get("page") == "live",
        }
        parts.append(render_to_string(_TEMPLATES + "_live_status_oob.html", context, request))
    if "r" in request.GET:
        context = {**_rsvp_context(request, membership, session), "oob": True}
        if context["panel"].key != request.GET["r"]:
            parts.append(render_to_string(_TEMPLATES + "_rsvp_panel.html", context, request))
    if "q" in request.GET:
        parts.append(_queue_part(request, membership, session))
    if "a" in request.GET:
        found = selectors.announcements(session=session)
        if found.key != request.GET["a"]:
            context = {**_base(request, membership, session), "announcements": found, "oob": True}
            parts.append(render_to_string(_TEMPLATES + "_announcements.html", context, request))
    context = {
        **_base(request, membership, session),
        "pulse_key": key,
        "pulse_interval": selectors.pulse_interval(session, now),
        "parts": parts,
    }
    return _render(request, "_live_state.html", context)


def _queue_part(request: HttpRequest, membership: Membership, session: OfficeHoursSession) -> str:
    """The queue panel (or, for a learner whose mode has not changed, only their status line) if it changed."""
    seen = request.GET["q"]
    if membership.is_staff_role:
        key, _poll = selectors.staff_queue_key(session=session, first_time_first=_first_time_first(request))
        if key == seen:
            return ""
        context = {**_queue_context(request, membership, session), "oob": True}
        return render_to_string(_TEMPLATES + "_help_queue.html", context, request)
    queue = selectors.learner_queue(session=session, viewer=membership)
    if queue.key == seen:
        return ""
    if request.GET.get("qm") == queue.mode:
        context = {**_base(request, membership, session), "queue": queue, "oob": True}
        return render_to_string(_TEMPLATES + "_help_queue_status.html", context, request)
    context = {**_queue_context(request, membership, session), "oob": True}
    return render_to_string(_TEMPLATES + "_help_queue.html", context, request)


# --- Attendance history -------------------------------------------------------------------------


@_signed_in
@require_GET
def my_attendance(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    history = selectors.attendance_history(membership=membership)
    context = {"membership": membership, "cohort": membership.cohort, "history": history, "own": True}
    return _render(request, "attendance.html", context)


@_signed_in
@require_GET
def member_attendance(request: HttpRequest, cohort_slug: str, membership_id: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    subject = selectors.cohort_member(cohort=membership.cohort, membership_id=membership_id)
    if subject is None:
        raise Http404("No such member")
    history = selectors.attendance_history(membership=subject)
    context = {"membership": membership, "cohort": membership.cohort, "history": history, "own": False}
    return _render(request, "attendance.html", context)
