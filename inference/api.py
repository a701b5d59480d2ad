"""JSON API of the sandbox (session auth, CSRF on writes). Shapes are documented in openapi.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from cohort.selectors import primary_membership
from inference import labs, selectors, services
from inference.chat_templates import TemplateRenderError
from inference.forms import RenderForm, RunForm, TokenizeForm
from inference.generation import build_prompt, token_dicts
from inference.models import SandboxModel
from inference.prompts import tokenize_segments


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def api_login_required(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """401 JSON for anonymous callers (an API does not redirect to a login page)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if not request.user.is_authenticated:
            return _error(401, "Sign in first.")
        return view(request, *args, **kwargs)

    return wrapper


def _json_body(request: HttpRequest) -> dict[str, Any] | JsonResponse:
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "The body is not JSON.")
    if not isinstance(payload, dict):
        return _error(400, "The body must be a JSON object.")
    return payload


def _invalid(form) -> JsonResponse:  # type: ignore[no-untyped-def]
    return _error(400, "Invalid parameters.", fields={k: [str(m) for m in v] for k, v in form.errors.items()})


@require_GET
@api_login_required
def models_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"models": selectors.models_as_dicts()})


@require_POST
@api_login_required
def tokenize(request: HttpRequest) -> JsonResponse:
    payload = _json_body(request)
    if isinstance(payload, JsonResponse):
        return payload
    form = TokenizeForm(payload)
    if not form.is_valid():
        return _invalid(form)
    engine = selectors.vocab_engine(form.cleaned_data["model"])
    ids = engine.tokenize(form.cleaned_data["text"], special=form.cleaned_data["special"])
    return JsonResponse({"tokens": token_dicts(engine, ids), "count": len(ids)})


@require_POST
@api_login_required
def render(request: HttpRequest) -> JsonResponse:
    payload = _json_body(request)
    if isinstance(payload, JsonResponse):
        return payload
    form = RenderForm(payload)
    if not form.is_valid():
        return _invalid(form)
    c = form.cleaned_data
    model = c["model"]
    engine = selectors.vocab_engine(model)
    request_data = {
        "messages": c["messages"],
        "template": c["template"],
        "enable_thinking": c.get("enable_thinking"),
        "add_generation_prompt": True if c.get("add_generation_prompt") is None else c["add_generation_prompt"],
    }
    try:
        prompt = build_prompt(engine, model, request_data)
    except TemplateRenderError as exc:
        return _error(400, "The chat template could not be rendered.", fields={"template": [str(exc)]}, line=exc.line)
    ids = tokenize_segments(engine, prompt, add_bos=False)
    return JsonResponse({"prompt": prompt.text, "tokens": token_dicts(engine, ids), "count": len(ids)})


@require_POST
@api_login_required
def runs_create(request: HttpRequest) -> JsonResponse:
    membership = primary_membership(user=request.user)  # type: ignore[arg-type]
    if membership is None:
        return _error(403, "Join a cohort to use the sandbox.")
    payload = _json_body(request)
    if isinstance(payload, JsonResponse):
        return payload
    form = RunForm(payload)
    if not form.is_valid():
        return _invalid(form)
    try:
        run = services.run_create(
            membership=membership,
            model=form.cleaned_data["model"],
            request=form.run_request(),
            params=form.run_params(),
            seed=form.cleaned_data.get("seed"),
        )
    except services.RateLimited as exc:
        response = _error(429, str(exc))
        response["Retry-After"] = str(exc.retry_after)
        return response
    return JsonResponse({"id": run.pk, "status": run.status, "seed": run.seed}, status=201)


@require_GET
@api_login_required
def runs_list(request: HttpRequest) -> JsonResponse:
    runs = selectors.runs_for_user(user=request.user)[:50]  # type: ignore[arg-type]
    return JsonResponse({"runs": [selectors.run_summary(run) for run in runs]})


@require_GET
@api_login_required
def runs_detail(request: HttpRequest, run_id: int) -> JsonResponse:
    run = selectors.run_for_user(user=request.user, run_id=run_id)  # type: ignore[arg-type]
    if run is None:
        return _error(404, "No such run.")
    since = request.GET.get("since", "0")
    if not since.isdigit():
        return _error(400, "Invalid parameters.", fields={"since": ["A whole number is required."]})
    # `since=N` returns tokens from index N on: a poller asks only for what is new.
    return JsonResponse(selectors.run_as_dict(run, since=int(since)))


@require_POST
@api_login_required
def runs_cancel(request: HttpRequest, run_id: int) -> JsonResponse:
    run = selectors.run_for_user(user=request.user, run_id=run_id)  # type: ignore[arg-type]
    if run is None:
        return _error(404, "No such run.")
    run = services.run_cancel(run=run)
    return JsonResponse(selectors.run_as_dict(run))


def runs_dispatch(request: HttpRequest) -> JsonResponse:
    """`/api/sandbox/runs`: GET lists the learner's runs, POST creates one."""
    if request.method == "POST":
        return runs_create(request)
    return runs_list(request)


@require_POST
@api_login_required
def runs_branch(request: HttpRequest, run_id: int) -> JsonResponse:
    """`{step, token_id}` -> a new run continuing this one with another token at `step`."""
    parent = selectors.run_for_user(user=request.user, run_id=run_id)  # type: ignore[arg-type]
    if parent is None:
        return _error(404, "No such run.")
    payload = _json_body(request)
    if isinstance(payload, JsonResponse):
        return payload
    step, token_id = payload.get("step"), payload.get("token_id")
    fields = {
        name: ["A whole number is required."]
        for name, value in (("step", step), ("token_id", token_id))
        if not isinstance(value, int) or isinstance(value, bool)
    }
    if fields:
        return _error(400, "Invalid parameters.", fields=fields)
    try:
        child = services.run_branch(parent=parent, step=step, token_id=token_id)
    except services.BranchError as exc:
        return _error(400, str(exc))
    except services.RateLimited as exc:
        response = _error(429, str(exc))
        response["Retry-After"] = str(exc.retry_after)
        return response
    return JsonResponse({"id": child.pk, "status": child.status, "seed": child.seed, "parent": parent.pk}, status=201)


@require_GET
@api_login_required
def runs_tree(request: HttpRequest, run_id: int) -> JsonResponse:
    run = selectors.run_for_user(user=request.user, run_id=run_id)  # type: ignore[arg-type]
    if run is None:
        return _error(404, "No such run.")
    while run.parent_id is not None:
        run = run.parent  # type: ignore[assignment]
    return JsonResponse(selectors.run_tree(root=run))


def _lab_response(create) -> JsonResponse:  # type: ignore[no-untyped-def]
    try:
        job = create()
    except labs.LabError as exc:
        return _error(400, str(exc))
    return JsonResponse({"id": job.pk, "kind": job.kind, "status": job.status}, status=201)


@require_POST
@api_login_required
def labs_pipeline(request: HttpRequest) -> JsonResponse:
    """`{run, step}` -> the candidate set after each sampler stage at that step of a finished run."""
    payload = _json_body(request)
    if isinstance(payload, JsonResponse):
        return payload
    run = selectors.run_for_user(
        user=request.user, run_id=payload.get("run") if isinstance(payload.get("run"), int) else -1
    )  # type: ignore[arg-type]
    if run is None:
        return _error(404, "No such run.")
    step = payload.get("step")
    if not isinstance(step, int) or isinstance(step, bool):
        return _error(400, "Invalid parameters.", fields={"step": ["A whole number is required."]})
    return _lab_response(lambda: labs.lab_pipeline_create(run=run, step=step))


@require_POST
@api_login_required
def labs_sweep(request: HttpRequest) -> JsonResponse:
    """One prompt at several temperatures with N seeds each, plus one step's distribution per temperature."""
    membership = primary_membership(user=request.user)  # type: ignore[arg-type]
    if membership is None:
        return _error(403, "Join a cohort to use the sandbox.")
    payload = _json_body(request)
    if isinstance(payload, JsonResponse):
        return payload
    form = RunForm(
        {k: v for k, v in payload.items() if k in ("model", "messages", "prompt", "enable_thinking", "template")}
    )
    if not form.is_valid():
        return _invalid(form)
    numbers = {
        "temperatures": payload.get("temperatures", list(labs.SWEEP_TEMPERATURES)),
        "seeds": payload.get("seeds", 3),
        "max_tokens": payload.get("max_tokens", 24),
        "step": payload.get("step", 0),
    }
    if not isinstance(numbers["temperatures"], list) or not all(
        isinstance(t, int | float) and not isinstance(t, bool) for t in numbers["temperatures"]
    ):
        return _error(400, "Invalid parameters.", fields={"temperatures": ["A list of numbers is required."]})
    bad = [
        k for k in ("seeds", "max_tokens", "step") if not isinstance(numbers[k], int) or isinstance(numbers[k], bool)
    ]
    if bad:
        return _error(400, "Invalid parameters.", fields={k: ["A whole number is required."] for k in bad})
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
        return _error(404, "No such lab.")
    return JsonResponse(selectors.lab_as_dict(job))


@require_POST
@api_login_required
def labs_share(request: HttpRequest, job_id: int) -> JsonResponse:
    """Let the cohort open this lab (only its owner can share it)."""
    job = selectors.lab_visible_to(user=request.user, job_id=job_id)  # type: ignore[arg-type]
    if job is None or job.membership.user_id != request.user.pk:
        return _error(404, "No such lab.")
    job.shared = True
    job.save(update_fields=["shared"])
    return JsonResponse(selectors.lab_as_dict(job))


@require_GET
@api_login_required
def models_inspect(request: HttpRequest, slug: str) -> JsonResponse:
    """The GGUF inspector: metadata, tokenizer, tensor table and sizes, without loading weights."""
    from inference.inspector import inspect_gguf

    model = SandboxModel.objects.filter(slug=slug).first()
    if model is None:
        return _error(404, "No such model.")
    return JsonResponse(selectors.model_inspection(model, inspect_gguf))


@require_POST
@api_login_required
def labs_speculative(request: HttpRequest) -> JsonResponse:
    """Draft with prompt lookup or a smaller model; every step's drafts, acceptance and the speed-up."""
    membership = primary_membership(user=request.user)  # type: ignore[arg-type]
    if membership is None:
        return _error(403, "Join a cohort to use the sandbox.")
    payload = _json_body(request)
    if isinstance(payload, JsonResponse):
        return payload
    form = RunForm({k: v for k, v in payload.items() if k not in ("draft", "draft_model", "k")})
    if not form.is_valid():
        return _invalid(form)
    draft_model = None
    if payload.get("draft_model"):
        draft_model = SandboxModel.objects.filter(slug=str(payload["draft_model"]), available=True).first()
        if draft_model is None:
            return _error(400, "Invalid parameters.", fields={"draft_model": ["No such available model."]})
    k = payload.get("k", 4)
    if not isinstance(k, int) or isinstance(k, bool):
        return _error(400, "Invalid parameters.", fields={"k": ["A whole number is required."]})
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
    membership = primary_membership(user=request.user)  # type: ignore[arg-type]
    if membership is None:
        return _error(403, "Join a cohort to use the sandbox.")
    payload = _json_body(request)
    if isinstance(payload, JsonResponse):
        return payload
    model = SandboxModel.objects.filter(slug=str(payload.get("model", "")), available=True).first()
    if model is None:
        return _error(400, "Invalid parameters.", fields={"model": ["No such available model."]})
    types = payload.get("types", ["Q8_0", "Q4_K_M", "Q4_0"])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        return _error(400, "Invalid parameters.", fields={"types": ["A list of type names is required."]})
    return _lab_response(lambda: labs.lab_quantization_create(membership=membership, model=model, types=types))
