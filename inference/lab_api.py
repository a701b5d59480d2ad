"""JSON API of the sandbox labs: create a lab job, read it, share it with the cohort."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from inference import labs, selectors, services
from inference.api import api_login_required, form_errors, json_error, member_and_body, read_json
from inference.forms import RunForm
from inference.models import SandboxModel


def _lab_response(create) -> JsonResponse:  # type: ignore[no-untyped-def]
    try:
        job = create()
    except labs.LabError as exc:
        return json_error(400, str(exc))
    return JsonResponse({"id": job.pk, "kind": job.kind, "status": job.status}, status=201)


@require_POST
@api_login_required
def labs_pipeline(request: HttpRequest) -> JsonResponse:
    """`{run, step}` -> the candidate set after each sampler stage at that step of a finished run."""
    payload = read_json(request)
    if isinstance(payload, JsonResponse):
        return payload
    run = selectors.run_for_user(
        user=request.user, run_id=payload.get("run") if isinstance(payload.get("run"), int) else -1
    )  # type: ignore[arg-type]
    if run is None:
        return json_error(404, "No such run.")
    step = payload.get("step")
    if not isinstance(step, int) or isinstance(step, bool):
        return json_error(400, "Invalid parameters.", fields={"step": ["A whole number is required."]})
    return _lab_response(lambda: labs.lab_pipeline_create(run=run, step=step))


@require_POST
@api_login_required
def labs_sweep(request: HttpRequest) -> JsonResponse:
    """One prompt at several temperatures with N seeds each, plus one step's distribution per temperature."""
    checked = member_and_body(request)
    if isinstance(checked, JsonResponse):
        return checked
    membership, payload = checked
    form = RunForm(
        {k: v for k, v in payload.items() if k in ("model", "messages", "prompt", "enable_thinking", "template")}
    )
    if not form.is_valid():
        return form_errors(form)
    numbers = {
        "temperatures": payload.get("temperatures", list(labs.SWEEP_TEMPERATURES)),
        "seeds": payload.get("seeds", 3),
        "max_tokens": payload.get("max_tokens", 24),
        "step": payload.get("step", 0),
    }
    if not isinstance(numbers["temperatures"], list) or not all(
        isinstance(t, int | float) and not isinstance(t, bool) for t in numbers["temperatures"]
    ):
        return json_error(400, "Invalid parameters.", fields={"temperatures": ["A list of numbers is required."]})
    bad = [
        k for k in ("seeds", "max_tokens", "step") if not isinstance(numbers[k], int) or isinstance(numbers[k], bool)
    ]
    if bad:
        return json_error(400, "Invalid parameters.", fields={k: ["A whole number is required."] for k in bad})
    return _lab_response(
        lambda: labs.lab_sweep_create(
            membership=membership,
            model=form.cleaned_data["model"],
            request=form.run_request(),
            temperatures=[float(t) for t in numbers["temperatures"]],
            seeds=numbers["seeds"],
            max_tokens=numbers["max_tokens"],
            step=numbers["step"],
        )  # fmt: skip
    )


@require_GET
@api_login_required
def labs_detail(request: HttpRequest, job_id: int) -> JsonResponse:
    job = selectors.lab_visible_to(user=request.user, job_id=job_id)  # type: ignore[arg-type]
    if job is None:
        return json_error(404, "No such lab.")
    return JsonResponse(selectors.lab_as_dict(job))


@require_POST
@api_login_required
def labs_share(request: HttpRequest, job_id: int) -> JsonResponse:
    """Let the cohort open this lab (only its owner can share it)."""
    job = selectors.lab_visible_to(user=request.user, job_id=job_id)  # type: ignore[arg-type]
    if job is None or job.membership.user_id != request.user.pk:
        return json_error(404, "No such lab.")
    job.shared = True
    job.save(update_fields=["shared"])
    return JsonResponse(selectors.lab_as_dict(job))


@require_POST
@api_login_required
def labs_speculative(request: HttpRequest) -> JsonResponse:
    """Draft with prompt lookup or a smaller model; every step's drafts, acceptance and the speed-up."""
    checked = member_and_body(request)
    if isinstance(checked, JsonResponse):
        return checked
    membership, payload = checked
    form = RunForm({k: v for k, v in payload.items() if k not in ("draft", "draft_model", "k")})
    if not form.is_valid():
        return form_errors(form)
    draft_model = None
    if payload.get("draft_model"):
        draft_model = SandboxModel.objects.filter(slug=str(payload["draft_model"]), available=True).first()
        if draft_model is None:
            return json_error(400, "Invalid parameters.", fields={"draft_model": ["No such available model."]})
    k = payload.get("k", 4)
    if not isinstance(k, int) or isinstance(k, bool):
        return json_error(400, "Invalid parameters.", fields={"k": ["A whole number is required."]})
    seed = form.cleaned_data.get("seed")
    return _lab_response(
        lambda: labs.lab_speculative_create(
            membership=membership,
            model=form.cleaned_data["model"],
            request=form.run_request(),
            draft_kind=str(payload.get("draft", "prompt_lookup")),
            draft_model=draft_model,
            params=form.run_params(),
            k=k,
            max_tokens=form.cleaned_data["max_tokens"],
            seed=services.new_seed() if seed is None else seed,
        )  # fmt: skip
    )


@require_POST
@api_login_required
def labs_quantization(request: HttpRequest) -> JsonResponse:
    """`{model, types}` -> variants made with llama.cpp, compared on size, speed and agreement."""
    checked = member_and_body(request)
    if isinstance(checked, JsonResponse):
        return checked
    membership, payload = checked
    model = SandboxModel.objects.filter(slug=str(payload.get("model", "")), available=True).first()
    if model is None:
        return json_error(400, "Invalid parameters.", fields={"model": ["No such available model."]})
    types = payload.get("types", ["Q8_0", "Q4_K_M", "Q4_0"])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        return json_error(400, "Invalid parameters.", fields={"types": ["A list of type names is required."]})
    return _lab_response(lambda: labs.lab_quantization_create(membership=membership, model=model, types=types))
