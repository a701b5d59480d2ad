"""JSON API of the sandbox (session auth, CSRF on writes). Shapes are documented in openapi.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from cohort.selectors import primary_membership
from inference import selectors, services
from inference.chat_templates import TemplateRenderError
from inference.forms import RenderForm, RunForm, TokenizeForm
from inference.generation import build_prompt, token_dicts
from inference.models import SandboxModel
from inference.prompts import tokenize_segments


def json_error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def api_login_required(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """401 JSON for anonymous callers (an API does not redirect to a login page)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if not request.user.is_authenticated:
            return json_error(401, "Sign in first.")
        return view(request, *args, **kwargs)

    return wrapper


def read_json(request: HttpRequest) -> dict[str, Any] | JsonResponse:
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return json_error(400, "The body is not JSON.")
    if not isinstance(payload, dict):
        return json_error(400, "The body must be a JSON object.")
    return payload


def member_and_body(request: HttpRequest):  # type: ignore[no-untyped-def]
    """(membership, JSON body) for a write, or the error response to return."""
    membership = primary_membership(user=request.user)  # type: ignore[arg-type]
    if membership is None:
        return json_error(403, "Join a cohort to use the sandbox.")
    payload = read_json(request)
    if isinstance(payload, JsonResponse):
        return payload
    return membership, payload


def rate_limited(exc: services.RateLimited) -> JsonResponse:
    response = json_error(429, str(exc))
    response["Retry-After"] = str(exc.retry_after)
    return response


def bind_json(request: HttpRequest, form_class):  # type: ignore[no-untyped-def]
    """The request's JSON body bound to `form_class` and valid, or the 400 response to return."""
    payload = read_json(request)
    if isinstance(payload, JsonResponse):
        return payload
    form = form_class(payload)
    return form if form.is_valid() else form_errors(form)


def form_errors(form) -> JsonResponse:  # type: ignore[no-untyped-def]
    return json_error(400, "Invalid parameters.", fields={k: [str(m) for m in v] for k, v in form.errors.items()})


@require_GET
@api_login_required
def models_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"models": selectors.models_as_dicts()})


@require_POST
@api_login_required
def tokenize(request: HttpRequest) -> JsonResponse:
    form = bind_json(request, TokenizeForm)
    if isinstance(form, JsonResponse):
        return form
    engine = selectors.vocab_engine(form.cleaned_data["model"])
    ids = engine.tokenize(form.cleaned_data["text"], special=form.cleaned_data["special"])
    return JsonResponse({"tokens": token_dicts(engine, ids), "count": len(ids)})


@require_POST
@api_login_required
def render(request: HttpRequest) -> JsonResponse:
    form = bind_json(request, RenderForm)
    if isinstance(form, JsonResponse):
        return form
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
        return json_error(
            400, "The chat template could not be rendered.", fields={"template": [str(exc)]}, line=exc.line
        )
    ids = tokenize_segments(engine, prompt, add_bos=False)
    return JsonResponse({"prompt": prompt.text, "tokens": token_dicts(engine, ids), "count": len(ids)})


@require_POST
@api_login_required
def runs_create(request: HttpRequest) -> JsonResponse:
    checked = member_and_body(request)
    if isinstance(checked, JsonResponse):
        return checked
    membership, payload = checked
    form = RunForm(payload)
    if not form.is_valid():
        return form_errors(form)
    try:
        run = services.run_create(
            membership=membership,
            model=form.cleaned_data["model"],
            request=form.run_request(),
            params=form.run_params(),
            seed=form.cleaned_data.get("seed"),
        )
    except services.RateLimited as exc:
        return rate_limited(exc)
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
        return json_error(404, "No such run.")
    since = request.GET.get("since", "0")
    if not since.isdigit():
        return json_error(400, "Invalid parameters.", fields={"since": ["A whole number is required."]})
    # `since=N` returns tokens from index N on: a poller asks only for what is new.
    return JsonResponse(selectors.run_as_dict(run, since=int(since)))


@require_POST
@api_login_required
def runs_cancel(request: HttpRequest, run_id: int) -> JsonResponse:
    run = selectors.run_for_user(user=request.user, run_id=run_id)  # type: ignore[arg-type]
    if run is None:
        return json_error(404, "No such run.")
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
        return json_error(404, "No such run.")
    payload = read_json(request)
    if isinstance(payload, JsonResponse):
        return payload
    step, token_id = payload.get("step"), payload.get("token_id")
    fields = {
        name: ["A whole number is required."]
        for name, value in (("step", step), ("token_id", token_id))
        if not isinstance(value, int) or isinstance(value, bool)
    }
    if fields:
        return json_error(400, "Invalid parameters.", fields=fields)
    try:
        child = services.run_branch(parent=parent, step=step, token_id=token_id)
    except services.BranchError as exc:
        return json_error(400, str(exc))
    except services.RateLimited as exc:
        return rate_limited(exc)
    return JsonResponse({"id": child.pk, "status": child.status, "seed": child.seed, "parent": parent.pk}, status=201)


@require_GET
@api_login_required
def runs_tree(request: HttpRequest, run_id: int) -> JsonResponse:
    run = selectors.run_for_user(user=request.user, run_id=run_id)  # type: ignore[arg-type]
    if run is None:
        return json_error(404, "No such run.")
    while run.parent_id is not None:
        run = run.parent  # type: ignore[assignment]
    return JsonResponse(selectors.run_tree(root=run))


@require_GET
@api_login_required
def models_inspect(request: HttpRequest, slug: str) -> JsonResponse:
    """The GGUF inspector: metadata, tokenizer, tensor table and sizes, without loading weights."""
    from inference.inspector import inspect_gguf

    model = SandboxModel.objects.filter(slug=slug).first()
    if model is None:
        return json_error(404, "No such model.")
    return JsonResponse(selectors.model_inspection(model, inspect_gguf))
