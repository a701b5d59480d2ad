from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cohort.http import AuthedRequest
from cohort.models import Membership
from cohort.selectors import primary_membership
from inference import compare_cache, selectors, services
from inference.prompts import PRESETS

HISTORY = 20


def _sandbox_context(request: AuthedRequest, membership: Membership) -> dict[str, object]:
    models = selectors.models_as_dicts()
    history = [selectors.run_summary(r) for r in selectors.runs_for_user(user=request.user)[:HISTORY]]
    return {
        "membership": membership,
        "cohort": membership.cohort,
        "models": models,
        "default_model": selectors.default_model_slug(models),
        "presets": PRESETS,
        "history": history,
        "history_models": sorted({run["model"] for run in history}),
    }


@login_required
def sandbox(request: AuthedRequest) -> HttpResponse:
    membership = primary_membership(user=request.user)
    if membership is None:
        return redirect("cohort:join")
    return render(request, "inference/sandbox.html", _sandbox_context(request, membership))


@login_required
def run_page(request: AuthedRequest, run_id: int) -> HttpResponse:
    """The sandbox opened on one run: its settings in the form, its output and tokens shown."""
    run = selectors.run_visible_to(user=request.user, run_id=run_id)
    membership = primary_membership(user=request.user)
    if run is None or membership is None:
        raise Http404("No such run.")
    context = _sandbox_context(request, membership)
    is_owner = run.membership.user_id == request.user.pk
    context |= {
        "run": run,
        "run_data": {**selectors.run_as_dict(run), "mine": is_owner},
        "is_owner": is_owner,
    }
    return render(request, "inference/sandbox.html", context)


@require_POST
@login_required
def run_share(request: AuthedRequest, run_id: int) -> HttpResponse:
    """Share a run with the cohort, or stop sharing it; only its owner can."""
    run = selectors.run_visible_to(user=request.user, run_id=run_id)
    if run is None or run.membership.user_id != request.user.pk:
        raise Http404("No such run.")
    services.run_set_shared(run=run, shared=request.POST.get("shared") == "1")
    return redirect("inference:run_page", run_id=run.pk)


@login_required
def compare(request: AuthedRequest) -> HttpResponse:
    """Two runs side by side: settings that differ, tokens aligned, perplexity of each."""
    try:
        ids = [int(request.GET["a"]), int(request.GET["b"])]
    except (KeyError, ValueError):
        return render(request, "inference/compare.html", {"error": "Give two run numbers, a and b."}, status=400)
    # Permission first, with a light query; only then the (cached) comparison.
    runs = selectors.runs_visible_to(user=request.user, run_ids=ids)
    if ids[0] not in runs or ids[1] not in runs:
        raise Http404("No such run.")
    a, b = runs[ids[0]], runs[ids[1]]
    body = compare_cache.comparison_body(a, b)
    return render(request, "inference/compare.html", {"a": a, "b": b, "body": body})
