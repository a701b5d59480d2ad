"""Pages of live cohort experiments: the lead's start form, the projected results, one-click runs, close, recap.

Every view finds the experiment through the viewer's membership in its cohort
(another cohort: 404); lead actions asked by a learner are 403.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cohort.http import AuthedRequest
from cohort.models import Membership, SessionStatus
from cohort.office_hours.selectors import session_for
from cohort.selectors import membership_for, primary_membership
from inference import experiment_selectors as selectors
from inference import experiments as services
from inference.experiment_forms import ExperimentForm
from inference.models import Experiment, ExperimentRun
from inference.services import RateLimited

_TEMPLATES = "inference/experiments/"


def _found(request: AuthedRequest, experiment_id: int) -> tuple[Experiment, Membership]:
    found = selectors.experiment_for_member(user=request.user, experiment_id=experiment_id)
    if found is None:
        raise Http404("No such experiment.")
    return found


def _lead(request: AuthedRequest, experiment_id: int) -> tuple[Experiment, Membership]:
    experiment, membership = _found(request, experiment_id)
    if not selectors.is_lead(membership):
        raise PermissionDenied("Only the cohort's leads can do this.")
    return experiment, membership


def _detail_url(experiment: Experiment) -> str:
    return reverse("inference:experiment", args=[experiment.pk])


@login_required
def experiment_new(request: AuthedRequest) -> HttpResponse:
    """The lead's form; `?cohort=<slug>&session=<number>` when started from a live session page."""
    slug = request.GET.get("cohort", "")
    membership = membership_for(user=request.user, cohort_slug=slug) if slug else primary_membership(user=request.user)
    if membership is None:
        raise Http404("No such cohort.")
    if not selectors.is_lead(membership):
        raise PermissionDenied("Only the cohort's leads can start an experiment.")
    session = None
    number = request.GET.get("session", "")
    if number:
        if not number.isdigit():
            raise Http404("No such session.")
        session = session_for(cohort=membership.cohort, number=int(number))
        if session is None:
            raise Http404("No such session.")
    form = ExperimentForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                experiment = services.experiment_start(
                    membership=membership,
                    session=session,
                    title=form.cleaned_data["title"],
                    model=form.cleaned_data["model"],
                    request=form.run_request(),
                    params=form.params(),
                    temperatures=form.cleaned_data["temperatures"],
                    runs_per_learner=form.cleaned_data["runs_per_learner"],
                )
            except services.ExperimentRefused as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(request, "Experiment started: learners now see “Run the lead's experiment”.")
                return redirect(_detail_url(experiment))
        status = 400
    context = {
        "form": form,
        "membership": membership,
        "cohort": membership.cohort,
        "session": session,
        "session_not_live": session is not None and session.status != SessionStatus.LIVE,
    }
    return render(request, _TEMPLATES + "new.html", context, status=status)


@login_required
def experiment_detail(request: AuthedRequest, experiment_id: int) -> HttpResponse:
    """The projected results page: drawn on the server, then refreshed every second by static/js/experiment.js."""
    experiment, membership = _found(request, experiment_id)
    lead = selectors.is_lead(membership)
    # A lead's per-run table is a cached fragment of its own (the `experiment_run_rows` tag), so the
    # page never needs the runs as data: a view with nothing new reads and renders none of them.
    results = selectors.experiment_results(experiment=experiment, for_lead=False)
    closed_by_lead = lead and not experiment.is_open
    refusal = services.reopen_refusal(experiment) if closed_by_lead else None
    mine = list(
        ExperimentRun.objects.filter(experiment=experiment, membership=membership).values_list("run_id", flat=True)
    )
    context = {
        "experiment": experiment,
        "membership": membership,
        "cohort": experiment.cohort,
        "results": results,
        "is_lead": lead,
        "can_reopen": closed_by_lead and refusal is None,
        "reopen_refusal": refusal,
        "my_runs": mine,
        "runs_left": max(0, experiment.runs_per_learner - len(mine)),
    }
    return render(request, _TEMPLATES + "detail.html", context)


@require_POST
@login_required
def experiment_run(request: AuthedRequest, experiment_id: int) -> HttpResponse:
    """One click: the learner's run starts through the normal run path; back to where they clicked."""
    experiment, membership = _found(request, experiment_id)
    try:
        run, _entry = services.experiment_run(experiment=experiment, membership=membership)
    except (services.ExperimentRefused, RateLimited) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Your run #{run.pk} started at temperature {run.params['temperature']:g} with seed {run.seed}; "
            "it is in your sandbox history too.",
        )
    return redirect(_detail_url(experiment))


@require_POST
@login_required
def experiment_close(request: AuthedRequest, experiment_id: int) -> HttpResponse:
    experiment, _membership = _lead(request, experiment_id)
    services.experiment_close(experiment=experiment)
    messages.success(request, "Closed: no new runs; runs already started still count.")
    return redirect(_detail_url(experiment))


@require_POST
@login_required
def experiment_reopen(request: AuthedRequest, experiment_id: int) -> HttpResponse:
    experiment, membership = _lead(request, experiment_id)
    if experiment.is_open:
        messages.info(request, "The experiment is open already.")
        return redirect(_detail_url(experiment))
    try:
        services.experiment_reopen(experiment=experiment, membership=membership)
    except services.ExperimentRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Reopened: learners can run it again; the runs from before still count.")
    return redirect(_detail_url(experiment))


@require_POST
@login_required
def experiment_attach(request: AuthedRequest, experiment_id: int) -> HttpResponse:
    """Attach the chart and numbers as they are now to the session's recap."""
    experiment, _membership = _lead(request, experiment_id)
    results = selectors.experiment_results(experiment=experiment, for_lead=False)
    try:
        services.experiment_attach_to_recap(experiment=experiment, results=results)
    except services.ExperimentRefused as exc:
        messages.error(request, str(exc))
        return redirect(_detail_url(experiment))
    session = experiment.session
    assert session is not None  # the service refused otherwise
    if session.recap_is_published or session.recap_markdown:
        messages.success(request, "The chart and its numbers are attached to the recap.")
        return redirect("cohort:recap", experiment.cohort.slug, session.number)
    messages.success(request, "The chart is attached; it shows on the recap page once you write the recap.")
    return redirect("cohort:recap_edit", experiment.cohort.slug, session.number)
