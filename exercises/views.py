from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cohort.access import lead_or_403, member_or_404, staff_or_403
from cohort.models import Membership
from exercises import selectors, services
from exercises.forms import LinkPullRequestForm
from exercises.models import Exercise, Submission


def _exercise_or_404(membership: Membership, slug: str) -> Exercise:
    exercise = selectors.exercise_for(cohort=membership.cohort, slug=slug)
    if exercise is None:
        raise Http404("No such exercise")
    return exercise


@login_required
def exercise_detail(
    request: HttpRequest, cohort_slug: str, exercise_slug: str, form: LinkPullRequestForm | None = None
) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    exercise = _exercise_or_404(membership, exercise_slug)
    context: dict[str, Any] = {
        "membership": membership,
        "cohort": membership.cohort,
        "exercise": exercise,
        "status": selectors.exercise_statuses(membership=membership, step=exercise.step),
        "submissions": selectors.submissions_for(membership=membership, exercise=exercise),
        "form": form or LinkPullRequestForm(),
    }
    context["status"] = next((s for s in context["status"] if s.exercise.pk == exercise.pk), None)
    return render(request, "exercises/exercise_detail.html", context, status=400 if form is not None else 200)


@login_required
@require_POST
def exercise_link(request: HttpRequest, cohort_slug: str, exercise_slug: str) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    exercise = _exercise_or_404(membership, exercise_slug)
    form = LinkPullRequestForm(request.POST)
    if form.is_valid():
        try:
            submission = services.submission_link(
                membership=membership, exercise=exercise, pr_url=form.cleaned_data["pr_url"]
            )
        except services.LinkError as exc:
            form.add_error("pr_url", str(exc))
        else:
            messages.success(request, "Pull request linked. Its reviews, checks and merge will show up here.")
            return redirect("exercises:submission", cohort_slug=cohort_slug, submission_id=submission.pk)
    return exercise_detail(request, cohort_slug, exercise_slug, form=form)


@login_required
@require_POST
def exercise_self_check(request: HttpRequest, cohort_slug: str, exercise_slug: str) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    exercise = _exercise_or_404(membership, exercise_slug)
    try:
        services.exercise_self_check(membership=membership, exercise=exercise)
    except services.LinkError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{exercise.title}” marked done.")
    return redirect("exercises:exercise", cohort_slug=cohort_slug, exercise_slug=exercise_slug)


def _submission_or_404(request: HttpRequest, cohort_slug: str, submission_id: int) -> tuple[Membership, Submission]:
    membership = member_or_404(request, cohort_slug)
    submission = selectors.submission_visible_to(viewer=membership, submission_id=submission_id)
    if submission is None:
        raise Http404("No such submission")
    return membership, submission


@login_required
def submission_detail(request: HttpRequest, cohort_slug: str, submission_id: int) -> HttpResponse:
    membership, submission = _submission_or_404(request, cohort_slug, submission_id)
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "submission": submission,
        "timeline": submission.timeline.all(),
    }
    return render(request, "exercises/submission_detail.html", context)


@login_required
def submission_state(request: HttpRequest, cohort_slug: str, submission_id: int) -> HttpResponse:
    """State, review rounds, dates and the whole timeline, polled by htmx so the page follows GitHub."""
    membership, submission = _submission_or_404(request, cohort_slug, submission_id)
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "submission": submission,
        "timeline": submission.timeline.all(),
    }
    return render(request, "exercises/_submission_live.html", context)


@login_required
@require_POST
def submission_unlink(request: HttpRequest, cohort_slug: str, submission_id: int) -> HttpResponse:
    membership, submission = _submission_or_404(request, cohort_slug, submission_id)
    try:
        services.submission_unlink(membership=membership, submission=submission)
    except services.LinkError as exc:
        messages.error(request, str(exc))
        return redirect("exercises:submission", cohort_slug=cohort_slug, submission_id=submission_id)
    messages.success(request, f"Pull request #{submission.pr_number} unlinked.")
    return redirect("exercises:exercise", cohort_slug=cohort_slug, exercise_slug=submission.exercise.slug)


@login_required
def lead_review_queue(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = staff_or_403(request, cohort_slug)
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "queue": selectors.review_queue(cohort=membership.cohort),
        "comments": selectors.comments_not_posted(cohort=membership.cohort),
    }
    return render(request, "exercises/lead_review_queue.html", context)


@login_required
def lead_github_accounts(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    """Where GitHub sign-in is not configured, a lead confirms each learner's GitHub username."""
    membership = lead_or_403(request, cohort_slug)
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "learners": selectors.github_accounts(cohort=membership.cohort),
    }
    return render(request, "exercises/lead_github_accounts.html", context)


@login_required
@require_POST
def lead_github_confirm(request: HttpRequest, cohort_slug: str, membership_id: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    learner = selectors.cohort_member(cohort=membership.cohort, membership_id=membership_id)
    if learner is None:
        raise Http404("No such learner")
    confirm = request.POST.get("confirm") == "1"
    try:
        services.github_username_confirm(user=learner.user, confirm=confirm)
    except services.LinkError as exc:
        messages.error(request, str(exc))
    else:
        verb = "confirmed" if confirm else "no longer confirmed"
        messages.success(request, f"@{learner.user.github_username} {verb} for {learner.user.display_name}.")
    return redirect("exercises:lead_github", cohort_slug=cohort_slug)


@login_required
def lead_completion_matrix(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = staff_or_403(request, cohort_slug)
    matrix = selectors.completion_matrix(cohort=membership.cohort)
    return render(
        request, "exercises/lead_matrix.html", {"membership": membership, "cohort": membership.cohort, "matrix": matrix}
    )


@login_required
def exercise_panel(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    """The dashboard's exercise list alone, polled by htmx so submission states stay current."""
    membership = member_or_404(request, cohort_slug)
    context = {
        "cohort": membership.cohort,
        "membership": membership,
        "statuses": selectors.exercise_statuses(membership=membership),
        "show_step": True,
    }
    return render(request, "exercises/_exercise_panel.html", context)
