"""Calendar endpoints: token feeds for calendar apps, a session's .ics download, and token rotation.

Feeds have no login (calendar apps cannot sign in): the token in the URL is
the permission, an unknown or rotated token is a 404, and a token polled far
more often than any calendar app does gets 429. The download and the
rotations are ordinary member pages (`cohort.access`).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from cohort.access import lead_or_403, member_or_404
from cohort.office_hours import calendars
from cohort.office_hours.access import session_or_404
from config.ratelimit import seconds_until_allowed

CONTENT_TYPE = "text/calendar; charset=utf-8"
# Calendar apps poll every few minutes at most; a token read more often than this is a script or a leak.
FEED_REQUESTS_PER_MINUTE = 30


def _too_many(token: str) -> HttpResponse | None:
    retry = seconds_until_allowed(f"calendar-feed:{token}", limit=FEED_REQUESTS_PER_MINUTE)
    if not retry:
        return None
    response = HttpResponse("Too many requests for this calendar feed.\n", status=429, content_type="text/plain")
    response["Retry-After"] = str(retry)
    return response


def _calendar_response(body: bytes, *, filename: str, cache_control: str, attachment: bool = False) -> HttpResponse:
    response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'{"attachment" if attachment else "inline"}; filename="{filename}"'
    response["Cache-Control"] = cache_control
    # The URL is a secret: keep it out of search indexes if it ever leaks into a page.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_safe
def cohort_feed(request: HttpRequest, token: str) -> HttpResponse:
    if limited := _too_many(token):
        return limited
    cohort = calendars.cohort_for_feed(token=token)
    if cohort is None:
        raise Http404("No such calendar")
    return _calendar_response(
        calendars.cohort_feed(cohort=cohort),
        filename=f"{cohort.slug}-office-hours.ics",
        # Shared by the cohort but still secret (meeting links): browsers may keep it briefly, proxies never.
        cache_control="private, max-age=300",
    )


@require_safe
def member_feed(request: HttpRequest, token: str) -> HttpResponse:
    if limited := _too_many(token):
        return limited
    membership = calendars.membership_for_feed(token=token)
    if membership is None:
        raise Http404("No such calendar")
    return _calendar_response(
        calendars.member_feed(membership=membership),
        filename=f"{membership.cohort.slug}-my-office-hours.ics",
        # One person's RSVPs: nobody stores a copy, so a rotated URL leaves nothing behind.
        cache_control="private, no-store",
    )


@login_required
@require_safe
def session_ics(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    return _calendar_response(
        calendars.session_ics(session=session, cohort=membership.cohort),
        filename=f"{cohort_slug}-office-hours-{number}.ics",
        cache_control="private, no-cache",
        attachment=True,
    )


@login_required
@require_POST
def rotate_member_token(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    calendars.membership_rotate_calendar_token(membership=membership)
    messages.success(request, "New private calendar link created. Calendars subscribed to the old one stop updating.")
    return redirect(reverse("cohort:sessions", args=[cohort_slug]) + "#calendar")


@login_required
@require_POST
def rotate_cohort_token(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    calendars.cohort_rotate_calendar_token(cohort=membership.cohort)
    messages.success(request, "New cohort calendar link created. Share it again; the old one no longer works.")
    return redirect(reverse("cohort:sessions", args=[cohort_slug]) + "#calendar")
