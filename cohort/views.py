from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.views.decorators.http import require_http_methods, require_POST

from cohort import lead_views, selectors, services
from cohort.access import lead_or_403, member_or_404, staff_or_403
from cohort.forms import JoinForm, ProfileForm, RosterImportForm, TimezoneForm
from cohort.htmx import is_htmx
from cohort.http import AuthedRequest, is_authed
from cohort.mail import site_url
from cohort.models import Cohort, Invitation, Membership, OfficeHoursSession, RoadmapStep, StepProgress, User
from cohort.roster import roster_import
from cohort.selectors import Roadmap
from cohort.templatetags.check_ins import check_in_card_html
from cohort.web import form_add_errors, safe_next
from config.table_versions import cached, fragment, time_bucket
from exercises.models import Exercise, ExerciseCompletion, Submission
from inference.models import SandboxModel, SandboxRun


def home(request: HttpRequest) -> HttpResponse:
    if not is_authed(request):
        return render(request, "cohort/landing.html")
    memberships = list(selectors.memberships_for_user(user=request.user))
    if not memberships:
        return redirect("cohort:join")
    # A lead or mentor lands on the lead home of their latest cohort they lead; the
    # learner dashboard stays one click away at /c/<cohort>/ ("Your own dashboard").
    staff = next((m for m in memberships if m.is_staff_role), None)
    if staff is not None:
        return lead_views.render_lead_home(request, staff, memberships)
    return _dashboard(request, memberships[0], memberships)


@login_required
def cohort_dashboard(request: AuthedRequest, cohort_slug: str) -> HttpResponse:
    return _dashboard(request, member_or_404(request, cohort_slug))


def _dashboard(
    request: AuthedRequest, membership: Membership, memberships: Iterable[Membership] | None = None
) -> HttpResponse:
    if memberships is None:
        memberships = selectors.memberships_for_user(user=request.user)
    # Read at most once, and only when a fragment below is not cached (a warm view reads no step).
    roadmap = functools.cache(lambda: selectors.roadmap_for(membership=membership))
    progress, steps = roadmap_html(membership=membership, roadmap=roadmap)
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "roadmap": SimpleLazyObject(roadmap),
        "progress_html": progress,
        "roadmap_steps_html": steps,
        "check_in_html": check_in_card_html(request, membership=membership, roadmap=roadmap),
        "memberships": memberships,
        "coming_up": coming_up_html(membership=membership, user=request.user),
    }
    return render(request, "cohort/dashboard.html", context)


# Every table `selectors.roadmap_for` reads.
ROADMAP_TABLES = (RoadmapStep, StepProgress)


def roadmap_html(*, membership: Membership, roadmap: Callable[[], Roadmap]) -> tuple[SafeString, SafeString]:
    """The dashboard's "Current step" and "Your progress" panels, and its roadmap list: one cached pair.

    Both come from one roadmap read, made only when the pair is not cached; keyed by the
    membership, the cohort's slug (in the links) and the language (the status labels).
    """

    def render_parts() -> tuple[str, str]:
        context = {"cohort": membership.cohort, "roadmap": roadmap()}
        return (
            render_to_string("cohort/_dashboard_progress.html", context),
            render_to_string("cohort/_dashboard_roadmap.html", context),
        )

    progress, steps = cached(
        "dashboard-roadmap:v1",
        tables=ROADMAP_TABLES,
        key=[membership.pk, membership.cohort.slug, get_language()],
        compute=render_parts,
    )
    return mark_safe(progress), mark_safe(steps)  # noqa: S308 - our own templates' output, stored as rendered


# Every table the dashboard's "Coming up" panels read (exercises, office hours, recent sandbox runs).
COMING_UP_TABLES = (
    Cohort,
    RoadmapStep,
    Exercise,
    ExerciseCompletion,
    Submission,
    OfficeHoursSession,
    SandboxRun,
    SandboxModel,
)


def coming_up_html(*, membership: Membership, user: User) -> SafeString:
    """The dashboard's exercises, office-hours and sandbox panels: the learner's own, cached per membership.

    Keyed by the membership, the viewer's time zone and the minute (the next
    session by the clock); rendered without the request.
    """

    def render_panels() -> str:
        context = {"membership": membership, "cohort": membership.cohort, "user": user}
        return render_to_string("cohort/_dashboard_coming_up.html", context)

    return fragment(
        "dashboard-coming-up:v1",
        tables=COMING_UP_TABLES,
        key=[membership.pk, membership.cohort.slug, user.timezone, time_bucket()],
        render=render_panels,
    )


@login_required
def step_detail(request: HttpRequest, cohort_slug: str, step_slug: str) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    step = selectors.step_for(cohort=membership.cohort, step_slug=step_slug)
    if step is None:
        raise Http404("No such step")
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "step": step,
        "progress": selectors.step_progress_for(membership=membership, step=step),
    }
    return render(request, "cohort/step_detail.html", context)


@login_required
@require_POST
def step_focus(request: HttpRequest, cohort_slug: str, step_slug: str) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    step = selectors.step_for(cohort=membership.cohort, step_slug=step_slug)
    if step is None:
        raise Http404("No such step")
    services.progress_focus_step(membership=membership, step=step)
    if is_htmx(request):
        progress = selectors.step_progress_for(membership=membership, step=step)
        return render(
            request, "cohort/_step_focus.html", {"cohort": membership.cohort, "step": step, "progress": progress}
        )
    messages.success(request, f"{step.code} is now your current step.")
    return redirect("cohort:step", cohort_slug=cohort_slug, step_slug=step_slug)


@login_required
@require_http_methods(["GET", "POST"])
def join(request: AuthedRequest) -> HttpResponse:
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _join_with_code(request, form.cleaned_data["invite_code"], form)
    invitations = selectors.pending_invitations(user=request.user)
    return render(request, "cohort/join.html", {"form": form, "invitations": invitations})


@require_http_methods(["GET", "POST"])
def join_link(request: HttpRequest, invite_code: str) -> HttpResponse:
    cohort = Cohort.objects.filter(invite_code=invite_code.upper()).first()
    if not is_authed(request):
        if request.method == "POST":
            return redirect_to_login(request.get_full_path())
        if cohort is not None and cohort.invites_open:
            # Sign-up reads it back (cohort.adapters) and turns it into an invitation
            # for the new address, accepted when the address is confirmed.
            request.session[services.JOIN_CODE_SESSION_KEY] = cohort.invite_code
        return render(request, "cohort/join_link.html", {"cohort": cohort, "invite_code": invite_code})
    if request.method == "POST":
        # Bound, so a refused code is shown as an error on the field instead of a 500.
        return _join_with_code(request, invite_code, JoinForm({"invite_code": invite_code}))
    return render(request, "cohort/join_link.html", {"cohort": cohort, "invite_code": invite_code})


def _join_with_code(request: AuthedRequest, code: str, form: JoinForm) -> HttpResponse:
    try:
        membership = services.membership_join(user=request.user, invite_code=code)
    except services.JoinError as exc:
        form.add_error("invite_code" if form.is_bound else None, str(exc))
        return render(request, "cohort/join.html", {"form": form}, status=400)
    messages.success(request, f"Welcome to {membership.cohort.name}!")
    return redirect("cohort:dashboard", cohort_slug=membership.cohort.slug)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: AuthedRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm.for_user(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update_profile(
                user=user,
                name=form.cleaned_data["name"],
                github_username=form.cleaned_data.get("github_username", user.github_username),
                timezone_name=form.cleaned_data["timezone"],
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, "Profile saved.")
            return redirect("cohort:profile")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "cohort/profile.html", {"form": form}, status=status)


@login_required
@require_POST
def timezone_save(request: AuthedRequest) -> HttpResponse:
    form = TimezoneForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    services.user_set_timezone(user=request.user, timezone_name=form.cleaned_data["timezone"])
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"timezone": form.cleaned_data["timezone"]})
    messages.success(request, f"Times are now shown in {form.cleaned_data['timezone']}.")
    return redirect(safe_next(request, "/", form.cleaned_data["next"]))


@login_required
def lead_overview(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = staff_or_403(request, cohort_slug)
    sort = request.GET.get("sort", "name")
    sort = sort if sort in selectors.OVERVIEW_SORTS else "name"
    search = request.GET.get("q", "").strip()[:100]
    summary, table = overview_html(
        cohort=membership.cohort, sort=sort, search=search, page=request.GET.get("page", "1")
    )
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "overview_summary": summary,
        "overview_table": table,
        "sort": sort,
        "q": search,
        "invite_url": site_url(reverse("cohort:join_link", args=[membership.cohort.invite_code])),
    }
    template = "cohort/_overview_table.html" if is_htmx(request) else "cohort/lead_overview.html"
    return render(request, template, context)


# Every table `selectors.cohort_overview` reads.
OVERVIEW_TABLES = (Cohort, Membership, User, RoadmapStep, StepProgress, Invitation)


def overview_html(*, cohort: Cohort, sort: str, search: str, page: str) -> tuple[SafeString, SafeString]:
    """The overview's summary line and its table, each cached until a table they read is written.

    Both come from one `cohort_overview` read, made at most once per request and only
    when one of them is not cached. Rendered without the request; keyed by the query
    and the minute ("3 hours ago" in the last-activity column).
    """
    read = functools.cache(lambda: selectors.cohort_overview(cohort=cohort, sort=sort, search=search, page=page))
    key = [cohort.pk, cohort.slug, sort, search, page, time_bucket()]

    def render_part(template: str) -> str:
        return render_to_string(template, {"cohort": cohort, "overview": read(), "sort": sort, "q": search})

    summary = fragment(
        "overview-summary:v1",
        tables=OVERVIEW_TABLES,
        key=key,
        render=lambda: render_part("cohort/_overview_summary.html"),
    )
    table = fragment(
        "overview-table:v1",
        tables=OVERVIEW_TABLES,
        key=key,
        render=lambda: render_part("cohort/_overview_table_body.html"),
    )
    return summary, table


@login_required
@require_http_methods(["GET", "POST"])
def lead_roster(request: AuthedRequest, cohort_slug: str) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    form = RosterImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        result = roster_import(
            cohort=membership.cohort, content=form.cleaned_data["file"].read(), invited_by=request.user
        )
        if result.ok:
            messages.success(
                request,
                f"Roster imported: {len(result.invited)} invited by email (each joins on accepting), "
                f"{len(result.role_changed)} role changes, {len(result.unchanged)} already members unchanged.",
            )
            return redirect("cohort:lead_overview", cohort_slug=cohort_slug)
    status = 400 if (form.is_bound and (form.errors or (result and not result.ok))) else 200
    context = {"membership": membership, "cohort": membership.cohort, "form": form, "result": result}
    return render(request, "cohort/lead_roster.html", context, status=status)


@login_required
@require_POST
def lead_rotate_invite(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    services.cohort_rotate_invite_code(cohort=membership.cohort)
    messages.success(request, "New invite code created. The old code and link no longer work.")
    return redirect("cohort:lead_overview", cohort_slug=cohort_slug)
