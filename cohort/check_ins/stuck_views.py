"""Lead pages: who is stuck, resolving blockers, and the agenda builder.

Leads and mentors read both pages (`staff_or_403`); only leads resolve a
blocker or add a topic (`lead_or_403`). Ids in URLs are looked up inside the
viewer's cohort, so another cohort's blocker or question is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST

from cohort.access import lead_or_403, staff_or_403
from cohort.check_ins import agenda, stuck
from cohort.check_ins import services as check_ins
from cohort.check_ins.forms import AgendaAddForm
from cohort.htmx import is_htmx
from cohort.http import AuthedRequest
from cohort.models import (
    CheckIn,
    Cohort,
    Membership,
    OfficeHoursSession,
    RoadmapStep,
    Role,
    SessionAttendance,
    SessionRSVP,
    StepProgress,
    User,
)
from cohort.office_hours.access import session_or_404
from cohort.web import safe_next
from config.table_versions import fragment, time_bucket
from exercises.models import Review, Submission

# Every table `stuck.stuck_page` reads: a write to any of them renders the table anew.
STUCK_TABLE_TABLES = (
    Cohort,  # the ended sessions' query joins it
    RoadmapStep,
    OfficeHoursSession,
    Membership,
    User,
    StepProgress,
    Submission,
    Review,
    SessionAttendance,
    SessionRSVP,
    CheckIn,
)


@login_required
@require_GET
def lead_stuck(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = staff_or_403(request, cohort_slug)
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "stuck_table": stuck_table_html(membership=membership, query=request.GET),
    }
    if is_htmx(request):
        return render(request, "cohort/_stuck_table.html", context)
    filters = stuck.StuckFilters.from_query(request.GET)
    context["stuck_filters"] = stuck_filters_html(cohort=membership.cohort, filters=filters)
    return render(request, "cohort/lead_stuck.html", context)


def stuck_table_html(*, membership: Membership, query: QueryDict) -> SafeString:
    """The summary, table and pager of who is stuck, cached until a table it reads is written.

    Rendered without the request, so no CSRF token or per-request value can end up in
    the cache: the "Mark resolved" buttons submit a form the page renders outside it.
    Keyed by the query (filters, page, the pager's links), whether the viewer may
    resolve (leads, not mentors), the cohort's time zone, and the minute: "inactive
    N days" and "today" follow the clock.
    """
    cohort = membership.cohort
    can_resolve = membership.role == Role.LEAD
    filters = stuck.StuckFilters.from_query(query)

    def render_table() -> str:
        page = stuck.stuck_page(cohort=cohort, filters=filters, page=query.get("page", 1))
        context = {"cohort": cohort, "stuck": page, "can_resolve": can_resolve, "query": query}
        return render_to_string("cohort/_stuck_table_body.html", context)

    return fragment(
        "stuck-table:v1",
        tables=STUCK_TABLE_TABLES,
        key=[cohort.pk, cohort.slug, cohort.timezone, can_resolve, query.urlencode(), time_bucket()],
        render=render_table,
    )


def stuck_filters_html(*, cohort: Cohort, filters: stuck.StuckFilters) -> SafeString:
    """The filter form (a GET form: nothing per request), cached until the roadmap's steps change."""

    def render_filters() -> str:
        steps = RoadmapStep.objects.filter(cohort=cohort).order_by("position")
        context = {"cohort": cohort, "f": filters, "steps": list(steps), "sorts": stuck.SORT_LABELS}
        return render_to_string("cohort/_stuck_filters.html", context)

    return fragment(
        "stuck-filters:v1", tables=[RoadmapStep], key=[cohort.pk, cohort.slug, filters], render=render_filters
    )


@login_required
@require_POST
def blocker_resolve(request: AuthedRequest, cohort_slug: str, check_in_id: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    blocker = stuck.blocker_for(cohort=membership.cohort, check_in_id=check_in_id)
    if blocker is None:
        raise Http404("No such blocker")
    if check_ins.check_in_resolve(check_in=blocker, by=request.user):
        messages.success(request, f"{blocker.membership.user.display_name}'s blocker on {blocker.step.code} resolved.")
    else:
        messages.info(request, "That blocker was resolved already.")
    return redirect(safe_next(request, reverse("cohort:lead_stuck", args=[cohort_slug])))


@login_required
@require_GET
def lead_agenda(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = staff_or_403(request, cohort_slug)
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "agenda": agenda.agenda_for(cohort=membership.cohort),
    }
    return render(request, "cohort/check_ins/lead_agenda.html", context)


@login_required
@require_POST
def agenda_add(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    form = AgendaAddForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Unknown proposal.", status=400, content_type="text/plain")
    back = reverse("cohort:lead_agenda", args=[cohort_slug])
    try:
        proposal = agenda.proposal_for(cohort=membership.cohort, **form.cleaned_data)
        if proposal is None:
            raise Http404("No such proposal")
        topic, created = agenda.agenda_add(session=session, proposal=proposal)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect(back)
    if created:
        messages.success(request, f"Added to session {session.number} as topic {topic.position}: {topic.title}")
    else:
        messages.info(request, f"Session {session.number} already has it as topic {topic.position}: {topic.title}")
    return redirect(back)
