"""The lead home and the per-learner page: read-only pages for a cohort's leads and mentors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from cohort import learner_page as learner_selectors
from cohort.access import staff_or_403
from cohort.http import AuthedRequest
from cohort.lead_home import lead_home as lead_home_selector
from cohort.models import Membership
from cohort.selectors import memberships_for_user


def render_lead_home(request: HttpRequest, membership: Membership, memberships: list[Membership]) -> HttpResponse:
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "home": lead_home_selector(cohort=membership.cohort),
        "memberships": memberships,
    }
    return render(request, "cohort/lead_home.html", context)


@login_required
def lead_home(request: AuthedRequest, cohort_slug: str) -> HttpResponse:
    membership = staff_or_403(request, cohort_slug)
    return render_lead_home(request, membership, list(memberships_for_user(user=request.user)))


@login_required
def learner_detail(request: HttpRequest, cohort_slug: str, membership_id: int) -> HttpResponse:
    membership = staff_or_403(request, cohort_slug)
    learner = learner_selectors.learner_for(cohort=membership.cohort, membership_id=membership_id)
    if learner is None:
        raise Http404("No such learner in this cohort")
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "learner": learner,
        "page": learner_selectors.learner_page(membership=learner),
    }
    return render(request, "cohort/learner_detail.html", context)
