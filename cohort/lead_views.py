"""The lead home and the per-learner page: read-only pages for a cohort's leads and mentors.

Their bodies are cached fragments (`config.table_versions.fragment`), rendered
without the request so no per-request value (CSRF token, messages) can be
cached; the permission check runs before each is looked up, and the viewer's
role and time zone are part of each key.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
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
    StepProgress,
    User,
)
from cohort.selectors import memberships_for_user
from config.table_versions import fragment, time_bucket
from exercises.models import Exercise, ExerciseCompletion, Submission, TimelineEvent
from inference.models import LabJob, SandboxModel, SandboxRun

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
def learner_detail(request: AuthedRequest, cohort_slug: str, membership_id: int) -> HttpResponse:
    membership = staff_or_403(request, cohort_slug)
    # The per-object check stays in front of the cache: another cohort's learner is a 404 here.
    learner = learner_selectors.learner_for(cohort=membership.cohort, membership_id=membership_id)
    if learner is None:
        raise Http404("No such learner in this cohort")
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "learner": learner,
        "learner_body": learner_body_html(learner=learner, zone=request.user.timezone),
    }
    return render(request, "cohort/learner_detail.html", context)


# Every table `cohort.learner_page.learner_page` reads.
LEARNER_PAGE_TABLES = (
    Cohort,
    Membership,
    User,
    RoadmapStep,
    StepProgress,
    Submission,
    Exercise,
    TimelineEvent,
    CheckIn,
    OfficeHoursSession,
    SessionAttendance,
    SessionRSVP,
    SandboxRun,
    SandboxModel,
    LabJob,
    ExerciseCompletion,
)


def learner_body_html(*, learner: Membership, zone: str) -> SafeString:
    """Everything on the per-learner page below the lead navigation, cached until a table it reads is written.

    Nothing in it depends on who of the cohort's staff is looking but their time
    zone; the minute is in the key because attendance rows say "live now" and
    "upcoming" by the clock.
    """

    def render_body() -> str:
        context = {
            "cohort": learner.cohort,
            "learner": learner,
            "page": learner_selectors.learner_page(membership=learner),
            "tz": zone,
        }
        return render_to_string("cohort/_learner_detail_body.html", context)

    return fragment(
        "learner-page:v1",
        tables=LEARNER_PAGE_TABLES,
        key=[learner.cohort_id, learner.cohort.slug, learner.pk, zone, time_bucket()],
        render=render_body,
    )
