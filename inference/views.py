from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cohort.selectors import primary_membership
from inference import selectors
from inference.prompts import PRESETS


@login_required
def sandbox(request: HttpRequest) -> HttpResponse:
    membership = primary_membership(user=request.user)  # type: ignore[arg-type]
    if membership is None:
        return redirect("cohort:join")
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "models": selectors.models_as_dicts(),
        "presets": PRESETS,
        "history": [selectors.run_summary(r) for r in selectors.runs_for_user(user=request.user)[:20]],  # type: ignore[arg-type]
    }
    return render(request, "inference/sandbox.html", context)
