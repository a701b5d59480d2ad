"""Models, tokenize, render and runs. Each view: validated input in, one selector or service call, a shape out."""

from __future__ import annotations

from typing import Annotated, Any

from django.conf import settings
from ninja import Path, Query, Router, Status

from cohort.markdown import render_markdown
from inference import selectors, services
from inference.api.auth import MemberRequest
from inference.api.errors import INVALID, ApiError
from inference.api.experiment_schemas import ExperimentIn
from inference.api.schemas import (
    MAX_ID,
    BranchCreatedOut,
    BranchIn,
    ChatTemplateOut,
    ErrorOut,
    InspectionOut,
    MarkdownOut,
    ModelsOut,
    RenderIn,
    RenderOut,
    RunCreatedOut,
    RunIn,
    RunOut,
    RunsOut,
    RunViewOut,
    SamplerIn,
    TokenizeIn,
    TokensOut,
    TreeNode,
)
from inference.chat_templates import TemplateRenderError
from inference.generation import build_prompt, token_dicts
from inference.inspector import inspect_gguf
from inference.models import SandboxModel, SandboxRun
from inference.prompts import default_params, tokenize_segments

router = Router()

SAMPLER_FIELDS = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "presence_penalty", "frequency_penalty")
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="The run's id.")]

# What every operation can answer besides its success (the fuzz test holds the API to this list).
_CALLER = {401: ErrorOut, 403: ErrorOut}
READ = {**_CALLER, 400: ErrorOut, 404: ErrorOut, 429: ErrorOut}
# POSTs: 413 past Django's body limit, 415 for a form-encoded body (the CSRF check reads it as
# a form); 503 when the queue is unreachable.
SEND = {**READ, 413: ErrorOut, 415: ErrorOut}
WRITE = {**SEND, 503: ErrorOut}


def available_model(slug: str, *, field: str = "model") -> SandboxModel:
    model = SandboxModel.objects.filter(slug=slug, available=True).first()
    if model is None:
        raise ApiError(
            400, INVALID, fields={field: [f"No available model “{slug}”. GET /api/sandbox/models lists them."]}
        )
    return model


def run_params(body: SamplerIn | ExperimentIn, model: SandboxModel) -> dict[str, Any]:
    """The model's defaults, overridden by what the learner (or the lead) set (the run records all of them)."""
    params: dict[str, Any] = default_params(model, enable_thinking=body.enable_thinking)
    for name in SAMPLER_FIELDS:
        value = getattr(body, name)
        if value is not None:
            params[name] = value
    params["max_tokens"] = body.max_tokens or 128
    params["top_n"] = getattr(body, "top_n", None) or 10
    return params


def own_run(request: MemberRequest, run_id: int) -> SandboxRun:
    run = selectors.run_for_user(user=request.user, run_id=run_id)
    if run is None:
        raise ApiError(404, "No such run.")
    return run


def visible_run(request: MemberRequest, run_id: int) -> SandboxRun:
    """Own runs, and runs shared with the caller's cohort (read only: the run page's rule)."""
    run = selectors.run_visible_to(user=request.user, run_id=run_id)
    if run is None:
        raise ApiError(404, "No such run.")
    return run


def preview_limit(request: MemberRequest, kind: str) -> None:
    services.preview_check_limit(membership=request.auth, kind=kind, limit=settings.SANDBOX_PREVIEWS_PER_MINUTE)


@router.get("/models", response={200: ModelsOut, **READ}, url_name="api_models", summary="Models the sandbox has")
def models_list(request: MemberRequest) -> Any:
    preview_limit(request, "models")
    return {"models": selectors.models_as_dicts()}


@router.get(
    "/models/{slug}/inspect",
    response={200: InspectionOut, **READ},
    url_name="api_model_inspect",
    summary="Inside a GGUF file: metadata, tokenizer, tensors and sizes (weights are not loaded)",
)
def models_inspect(request: MemberRequest, slug: Annotated[str, Path(max_length=60)]) -> Any:
    preview_limit(request, "inspect")
    model = SandboxModel.objects.filter(slug=slug).first()
    if model is None:
        raise ApiError(404, "No such model.")
    return selectors.model_inspection(model, inspect_gguf)


@router.get(
    "/models/{slug}/template",
    response={200: ChatTemplateOut, **READ},
    url_name="api_model_template",
    summary="The model's own chat template, to start an edited one from",
)
def models_template(request: MemberRequest, slug: Annotated[str, Path(max_length=60)]) -> Any:
    preview_limit(request, "preview")
    model = SandboxModel.objects.filter(slug=slug, available=True).only("slug", "chat_template").first()
    if model is None:
        raise ApiError(404, "No such model.")
    return {"model": model.slug, "template": model.chat_template}


@router.post("/tokenize", response={200: TokensOut, **SEND}, url_name="api_tokenize", summary="Tokenize text")
def tokenize(request: MemberRequest, payload: TokenizeIn) -> Any:
    preview_limit(request, "preview")
    engine = selectors.vocab_engine(available_model(payload.model))
    ids = engine.tokenize(payload.text, special=payload.special) if payload.text else []
    return {"tokens": token_dicts(engine, ids), "count": len(ids)}


@router.post(
    "/render",
    response={200: RenderOut, **SEND},
    url_name="api_render",
    summary="Render a conversation with the chat template: the exact prompt the model reads, as tokens",
)
def render(request: MemberRequest, payload: RenderIn) -> Any:
    preview_limit(request, "preview")
    model = available_model(payload.model)
    engine = selectors.vocab_engine(model)
    request_data = {
        "messages": [m.model_dump() for m in payload.messages],
        "template": payload.template,
        "enable_thinking": payload.enable_thinking,
        "add_generation_prompt": True if payload.add_generation_prompt is None else payload.add_generation_prompt,
    }
    try:
        prompt = build_prompt(engine, model, request_data)
    except TemplateRenderError as exc:
        raise ApiError(
            400, "The chat template could not be rendered.", fields={"template": [str(exc)]}, line=exc.line
        ) from None
    ids = tokenize_segments(engine, prompt, add_bos=False)
    return {"prompt": prompt.text, "tokens": token_dicts(engine, ids), "count": len(ids)}


@router.get("/runs", response={200: RunsOut, **READ}, url_name="api_runs", summary="Your latest 50 runs")
def runs_list(request: MemberRequest) -> Any:
    runs = selectors.runs_for_user(user=request.user)[:50]
    return {"runs": [selectors.run_summary(run) for run in runs]}


@router.post(
    "/runs",
    response={201: RunCreatedOut, **WRITE},
    url_name="api_runs",
    summary="Start a run: queued at once, executed by a worker; poll GET /runs/{id}",
    description=(
        "Within your limits (runs a minute, runs waiting or running at once; 429 with Retry-After past them). "
        "The seed is chosen and recorded when left out, so every run can be replayed."
    ),
)
def runs_create(request: MemberRequest, payload: RunIn) -> Any:
    model = available_model(payload.model)
    run = services.run_create(
        membership=request.auth,
        model=model,
        request=payload.run_request(),
        params=run_params(payload, model),
        seed=payload.seed,
    )
    return Status(201, {"id": run.pk, "status": run.status, "seed": run.seed})


@router.get(
    "/runs/{id}",
    response={200: RunViewOut, **READ},
    url_name="api_run",
    summary="A run and its tokens so far (your own, or one shared with your cohort)",
)
def runs_detail(
    request: MemberRequest,
    id: RunId,
    since: Annotated[int, Query(ge=0, le=MAX_ID, description="Leave out the tokens before this index.")] = 0,
) -> Any:
    # A poller asks only for what is new: `since=N` returns tokens from index N on. Someone who opened
    # a shared run's link follows it the same way while it still runs.
    run = visible_run(request, id)
    return {**selectors.run_as_dict(run, since=since), "mine": run.membership.user_id == request.user.pk}


@router.get(
    "/runs/{id}/markdown",
    response={200: MarkdownOut, **READ},
    url_name="api_run_markdown",
    summary="The run's output as Markdown, rendered to clean HTML by the site's one Markdown renderer",
)
def runs_markdown(request: MemberRequest, id: RunId) -> Any:
    preview_limit(request, "preview")
    return {"html": str(render_markdown(visible_run(request, id).output_text))}


@router.post(
    "/runs/{id}/cancel",
    response={200: RunOut, **SEND},
    url_name="api_run_cancel",
    summary="Cancel a run (a running one stops at its next token)",
)
def runs_cancel(request: MemberRequest, id: RunId) -> Any:
    return selectors.run_as_dict(services.run_cancel(run=own_run(request, id)))


@router.post(
    "/runs/{id}/branch",
    response={201: BranchCreatedOut, **WRITE},
    url_name="api_run_branch",
    summary="A new run continuing this one with another token at `step`",
)
def runs_branch(request: MemberRequest, id: RunId, payload: BranchIn) -> Any:
    parent = own_run(request, id)
    child = services.run_branch(parent=parent, step=payload.step, token_id=payload.token_id)
    return Status(201, {"id": child.pk, "status": child.status, "seed": child.seed, "parent": parent.pk})


@router.get(
    "/runs/{id}/tree",
    response={200: TreeNode, **READ},
    url_name="api_run_tree",
    summary="The run's whole branch tree, from its root",
)
def runs_tree(request: MemberRequest, id: RunId) -> Any:
    run = own_run(request, id)
    while run.parent is not None:
        run = run.parent
    return selectors.run_tree(root=run)
