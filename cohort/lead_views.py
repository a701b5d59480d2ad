"""The lead home and the per-learner page: read-only pages for a cohort's leads and mentors.

Their bodies are cached fragments (`config.table_versions.fragment`), rendered
without the request so no per-request value (CSRF token, messages) can be
cached; the permission check runs before each is looked up, and the viewer's
role and time zone are part of each key.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from cohort import learner_page as learner_selectors
from cohort.access import staff_or_403
from cohort.http import AuthedRequest
from cohort.lead_home import lead_home as lead_home_selector
from cohort.models import (
    CheckIn,
    Cohort,
    HelpRequest,
    Membership,
    OfficeHoursSession,
    RoadmapStep,
    Role,
    SessionAttendance,
    SessionRSVP,
    User,
)
from cohort.selectors import memberships_for_user
from config.table_versions import fragment, time_bucket
from exercises.models import Exercise, Submission

# Every table `cohort.lead_home.lead_home` reads.
LEAD_HOME_TABLES = (
    Cohort,
    OfficeHoursSession,
    SessionRSVP,
    SessionAttendance,
    HelpRequest,
    CheckIn,
    Membership,
    User,
    RoadmapStep,
    Submission,
    Exercise,
)


def lead_home_panels_html(*, membership: Membership, zone: str) -> SafeString:
    """Every panel of the lead home, cached until a table it reads is written.

    Keyed by the viewer's role (only leads get the scheduling and roster links),
    their time zone, and the minute: "live now", "inactive N days" and "waiting
    3 days" follow the clock.
    """
    cohort = membership.cohort
    is_lead = membership.role == Role.LEAD

    def render_panels() -> str:
        context = {"cohort": cohort, "home": lead_home_selector(cohort=cohort), "is_lead": is_lead, "tz": zone}
        return render_to_string("cohort/_lead_home_panels.html", context)

    return fragment(
        "lead-home-panels:v1",
        tables=LEAD_HOME_TABLES,
        key=[cohort.pk, cohort.slug, is_lead, zone, time_bucket()],
        render=render_panels,
    )


def render_lead_home(request: AuthedRequest, membership: Membership, memberships: list[Membership]) -> HttpResponse:
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "panels": lead_home_panels_html(membership=membership, zone=request.user.timezone),
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
