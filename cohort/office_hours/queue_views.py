"""Help-queue views: a learner joins and leaves, staff take, finish, put back and annotate requests.

Thin, over `cohort.office_hours.live_services`; the panel contexts come from `live_panels`.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from cohort.access import lead_or_403, member_or_404, staff_or_403
from cohort.htmx import is_htmx
from cohort.http import AuthedRequest
from cohort.models import HelpRequest, Membership, OfficeHoursSession
from cohort.office_hours import live_services as services
from cohort.office_hours import queue_selectors
from cohort.office_hours.access import session_or_404
from cohort.office_hours.live_forms import (
    HelpNoteForm,
    HelpRequestForm,
    HelpRoomForm,
)
from cohort.office_hours.live_panels import (
    NOT_LIVE_MODES,
    base_context,
    first_time_first,
    live_url,
    panel_answer,
    queue_context,
    render_live_page,
    render_panel,
    signed_in,
    unchanged,
)

# --- Help queue ---------------------------------------------------------------------------------


@signed_in
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
        return redirect(live_url(session, "help-queue"))
    seen, seen_mode = request.GET.get("v"), request.GET.get("m")
    if membership.is_staff_role:
        if seen:
            key, _poll = queue_selectors.staff_queue_key(session=session, first_time_first=first_time_first(request))
            if key == seen:
                return unchanged()
        return render_panel(request, "_help_queue.html", queue_context(request, membership, session))
    queue = queue_selectors.learner_queue(session=session, viewer=membership)
    if seen == queue.key:
        return unchanged()
    if seen_mode == queue.mode:
        return render_panel(
            request, "_help_queue_status.html", {**base_context(request, membership, session), "queue": queue}
        )
    response = render_panel(request, "_help_queue.html", queue_context(request, membership, session))
    if seen_mode:
        response["HX-Retarget"] = "#help-queue"
        response["HX-Reswap"] = "outerHTML"
        if {seen_mode, queue.mode} & NOT_LIVE_MODES:
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
    return panel_answer(
        request,
        session,
        anchor="help-queue",
        template="_help_queue.html",
        context=lambda: queue_context(request, membership, session, form=form, error=error, notice=notice),
        error=error,
        notice=notice,
        invalid=bool(form and form.errors),
    )


@signed_in
@require_POST
def help_queue_join(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    form = HelpRequestForm(request.POST)
    if not form.is_valid():
        if not is_htmx(request):
            # Without JavaScript a redirect would lose what was typed: the live page again, with the errors.
            return render_live_page(request, membership, session, queue_form=form, status=400)
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


@signed_in
@require_POST
def help_queue_leave(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    left = services.help_request_leave(session=session, membership=membership)
    notice = "You left the queue." if left else "You were not in the queue."
    return _after_queue_post(request, membership, session, notice=notice)


def _help_request_or_404(session: OfficeHoursSession, request_id: int) -> HelpRequest:
    help_request = queue_selectors.help_request_for(session=session, request_id=request_id)
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


@signed_in
@require_POST
def help_request_take(request: AuthedRequest, cohort_slug: str, number: int, request_id: int) -> HttpResponse:
    def act(session: OfficeHoursSession, help_request: HelpRequest) -> str:
        services.help_request_take(session=session, request=help_request, helper=request.user)
        return f"You are helping {help_request.membership.user.display_name}."

    return _staff_queue_action(request, cohort_slug, number, request_id, act)


@signed_in
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


@signed_in
@require_POST
def help_request_put_back(request: HttpRequest, cohort_slug: str, number: int, request_id: int) -> HttpResponse:
    def act(session: OfficeHoursSession, help_request: HelpRequest) -> str:
        services.help_request_put_back(session=session, request=help_request)
        return f"{help_request.membership.user.display_name} is back in the queue, at their place."

    return _staff_queue_action(request, cohort_slug, number, request_id, act)


@signed_in
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


@signed_in
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
