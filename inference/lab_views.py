"""Pages of the sandbox labs: the hub, one lab's page, and the GGUF inspector.

The hub and lab pages are shells that labs.js fills from the JSON API (api.py):
labs run in a worker and are polled. The inspector is drawn here, because reading
a GGUF header is quick and cached.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from cohort.http import AuthedRequest
from cohort.selectors import primary_membership
from inference import selectors
from inference.inspector import inspect_gguf
from inference.labs import SWEEP_TEMPERATURES
from inference.models import SandboxModel
from inference.quantization import QUANT_TYPES

RECENT_JOBS = 20
RECENT_RUNS = 50


@login_required
def labs_index(request: AuthedRequest) -> HttpResponse:
    membership = primary_membership(user=request.user)
    if membership is None:
        return redirect("cohort:join")
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "models": [m for m in selectors.models_as_dicts() if m["available"]],
        "runs": [selectors.run_summary(r) for r in selectors.runs_for_user(user=request.user)[:RECENT_RUNS]],
        "jobs": selectors.labs_for_user(user=request.user)[:RECENT_JOBS],
        "quant_types": list(QUANT_TYPES),
        "sweep_temperatures": ", ".join(f"{t:g}" for t in SWEEP_TEMPERATURES),
    }
    return render(request, "inference/labs/index.html", context)


@login_required
def lab_detail(request: AuthedRequest, job_id: int) -> HttpResponse:
    membership = primary_membership(user=request.user)
    if membership is None:
        return redirect("cohort:join")
    job = selectors.lab_visible_to(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such lab.")
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "job": job,
        "lab": selectors.lab_as_dict(job),
        "is_owner": job.membership.user_id == request.user.pk,
        "share_url": request.build_absolute_uri(reverse("inference:lab_detail", args=[job.pk])),
    }
    return render(request, "inference/labs/detail.html", context)


@login_required
def inspector(request: AuthedRequest, slug: str) -> HttpResponse:
    membership = primary_membership(user=request.user)
    if membership is None:
        return redirect("cohort:join")
    model = get_object_or_404(SandboxModel, slug=slug, available=True)
    report = selectors.model_inspection(model, inspect_gguf)
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "model": model,
        "models": SandboxModel.objects.filter(available=True),
        "report": report,
        "sizes": _size_comparison(report),
    }
    return render(request, "inference/labs/inspector.html", context)


def _size_comparison(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The GGUF file next to the same weights stored as SafeTensors, as bars scaled to the largest (F32)."""
    gguf = report["file_bytes"]
    largest = max(report["safetensors_f32_bytes"], gguf, 1)
    rows = [
        ("GGUF file", f"{report['quantization'] or 'mixed'}, {report['bits_per_weight']} bits per weight", gguf),
        ("SafeTensors BF16", "16 bits per weight", report["safetensors_bf16_bytes"]),
        ("SafeTensors F32", "32 bits per weight", report["safetensors_f32_bytes"]),
    ]
    return [
        {
            "label": label,
            "detail": detail,
            "bytes": size,
            "percent": round(size * 100 / largest, 1),
            "times_gguf": round(size / gguf, 1) if gguf else None,
            "is_gguf": index == 0,
        }
        for index, (label, detail, size) in enumerate(rows)
    ]
