"""Lead pages: who is stuck, resolving blockers, and the agenda builder.

Leads and mentors read both pages (`staff_or_403`); only leads resolve a
blocker or add a topic (`lead_or_403`). Ids in URLs are looked up inside the
viewer's cohort, so another cohort's blocker or question is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cohort.access import lead_or_403, staff_or_403
from cohort.check_ins import agenda, stuck
from cohort.check_ins import services as check_ins
from cohort.check_ins.forms import AgendaAddForm
from cohort.htmx import is_htmx
from cohort.http import AuthedRequest
from cohort.office_hours.access import session_or_404
from cohort.web import safe_next


@login_required
@require_GET
def lead_stuck(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = staff_or_403(request, cohort_slug)
    filters = stuck.StuckFilters.from_query(request.GET)
    page = stuck.stuck_page(cohort=membership.cohort, filters=filters, page=request.GET.get("page", 1))
    context = {"membership": membership, "cohort": membership.cohort, "stuck": page, "sorts": stuck.SORT_LABELS}
    template = "cohort/_stuck_table.html" if is_htmx(request) else "cohort/lead_stuck.html"
    return render(request, template, context)


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
