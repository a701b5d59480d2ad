"""RSVP, check-in, attendance and help-queue views: thin, over `cohort.office_hours.live_services` and its selectors.

The session page shows these panels through `cohort.templatetags.live_session`:
the RSVP / check-in panel in the page itself (one query), the help queue and the
lead's roster as placeholders htmx fills from the panel endpoints here. The live page
(`sessions/<n>/live/`) renders the same panels in full for a browser without
JavaScript, and plain (non-htmx) form posts come back to it.

Every view finds the membership first (another cohort: 404; a lead action asked
by a learner: 403), then looks objects up inside that cohort and session.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cohort.access import lead_or_403, member_or_404
from cohort.htmx import is_htmx
from cohort.http import AuthedRequest
from cohort.models import Membership, OfficeHoursSession, SessionStatus
from cohort.office_hours import live_selectors as selectors
from cohort.office_hours import live_services as services
from cohort.office_hours import queue_selectors
from cohort.office_hours.access import session_or_404
from cohort.office_hours.live_forms import (
    AnnouncementForm,
    AttendanceCodeForm,
    MarkAttendanceForm,
)
from cohort.office_hours.live_panels import (
    TEMPLATES,
    after_plain_post,
    base_context,
    first_time_first,
    live_url,
    panel_answer,
    queue_context,
    render_live_page,
    render_panel,
    roster_context,
    rsvp_context,
    signed_in,
    unchanged,
)


@signed_in
@require_GET
def session_live(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    return render_live_page(request, membership, session_or_404(membership, number))


# --- RSVP and check-in --------------------------------------------------------------------------


@signed_in
@require_GET
def rsvp_panel_fragment(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    if not is_htmx(request):
        return redirect(live_url(session, "rsvp-panel"))
    return render_panel(request, "_rsvp_panel.html", rsvp_context(request, membership, session))


@signed_in
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
    return panel_answer(
        request,
        session,
        anchor="rsvp-panel",
        template="_rsvp_panel.html",
        context=lambda: rsvp_context(request, membership, session, error=error, notice=notice),
        error=error,
        notice=notice,
    )


@signed_in
@require_POST
def attendance_code_submit(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    form = AttendanceCodeForm(request.POST)
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
        return after_plain_post(request, session, "rsvp-panel", error=error, notice=notice)
    context = rsvp_context(request, membership, session, form=form if form.errors else None, error=error, notice=notice)
    return render_panel(request, "_rsvp_panel.html", context, status=400 if form.errors or error else 200)


# --- Lead: attendance ---------------------------------------------------------------------------


@signed_in
@require_GET
def attendance_roster_fragment(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    if not is_htmx(request):
        return redirect(live_url(session, "attendance-roster"))
    context = roster_context(request, membership, session)
    roster = context["roster"]
    assert isinstance(roster, selectors.Roster)  # the context is a dict[str, object]; roster_context puts a Roster here
    if request.GET.get("v") == roster.key:
        return unchanged()
    return render_panel(request, "_attendance_roster.html", context)


@signed_in
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
    return panel_answer(
        request,
        session,
        anchor="attendance-roster",
        template="_attendance_roster.html",
        context=lambda: roster_context(request, membership, session, error=error),
        error=error,
        notice=notice,
    )


# --- Announcements ------------------------------------------------------------------------------


def _announcements_response(
    request: HttpRequest, membership: Membership, session: OfficeHoursSession, *, error: str = "", notice: str = ""
) -> HttpResponse:
    return panel_answer(
        request,
        session,
        anchor="announcements",
        template="_announcements.html",
        context=lambda: {
            **base_context(request, membership, session),
            "announcements": selectors.announcements(session=session),
            "error": error,
        },
        error=error,
        notice=notice,
    )


@signed_in
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


@signed_in
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


@signed_in
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
            return unchanged()
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    if not is_htmx(request):
        return redirect(live_url(session, "live-status"))
    key = selectors.live_key(session=session, viewer=membership, now=now)
    if seen == key:
        return unchanged()
    parts: list[str] = []
    if _changed(request, "s", selectors.status_key(session, now)):
        context = {
            **base_context(request, membership, session),
            "oob": True,
            "on_live_page": request.GET.get("page") == "live",
        }
        parts.append(render_to_string(TEMPLATES + "_live_status_oob.html", context, request))
    if "r" in request.GET:
        context = {**rsvp_context(request, membership, session), "oob": True}
        panel = context["panel"]
        assert isinstance(panel, selectors.RsvpSummary)  # the context is a dict[str, object]; rsvp_context puts it here
        if panel.key != request.GET["r"]:
            parts.append(render_to_string(TEMPLATES + "_rsvp_panel.html", context, request))
    if "q" in request.GET:
        parts.append(_queue_part(request, membership, session))
    if "a" in request.GET:
        found = selectors.announcements(session=session)
        if found.key != request.GET["a"]:
            context = {**base_context(request, membership, session), "announcements": found, "oob": True}
            parts.append(render_to_string(TEMPLATES + "_announcements.html", context, request))
    context = {
        **base_context(request, membership, session),
        "pulse_key": key,
        "pulse_interval": selectors.pulse_interval(session, now),
        "parts": parts,
    }
    return render_panel(request, "_live_state.html", context)


def _queue_part(request: HttpRequest, membership: Membership, session: OfficeHoursSession) -> str:
    """The queue panel (or, for a learner whose mode has not changed, only their status line) if it changed."""
    seen = request.GET["q"]
    if membership.is_staff_role:
        key, _poll = queue_selectors.staff_queue_key(session=session, first_time_first=first_time_first(request))
        if key == seen:
            return ""
        context = {**queue_context(request, membership, session), "oob": True}
        return render_to_string(TEMPLATES + "_help_queue.html", context, request)
    queue = queue_selectors.learner_queue(session=session, viewer=membership)
    if queue.key == seen:
        return ""
    if request.GET.get("qm") == queue.mode:
        context = {**base_context(request, membership, session), "queue": queue, "oob": True}
        return render_to_string(TEMPLATES + "_help_queue_status.html", context, request)
    context = {**queue_context(request, membership, session), "oob": True}
    return render_to_string(TEMPLATES + "_help_queue.html", context, request)


# --- Attendance history -------------------------------------------------------------------------


@signed_in
@require_GET
def my_attendance(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    history = selectors.attendance_history(membership=membership)
    context = {"membership": membership, "cohort": membership.cohort, "history": history, "own": True}
    return render_panel(request, "attendance.html", context)


@signed_in
@require_GET
def member_attendance(request: HttpRequest, cohort_slug: str, membership_id: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    subject = selectors.cohort_member(cohort=membership.cohort, membership_id=membership_id)
    if subject is None:
        raise Http404("No such member")
    history = selectors.attendance_history(membership=subject)
    context = {"membership": membership, "cohort": membership.cohort, "history": history, "own": False}
    return render_panel(request, "attendance.html", context)
