"""Labs: start one (within the learner's lab limits), read it, share it with the cohort."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Path, Router, Status

from inference import labs, selectors, services
from inference.api.auth import MemberRequest
from inference.api.errors import ApiError
from inference.api.sandbox import READ, SEND, WRITE, available_model, own_run, run_params
from inference.api.schemas import (
    MAX_ID,
    LabCreatedOut,
    LabOut,
    PipelineIn,
    QuantizationIn,
    SpeculativeIn,
    SweepIn,
)
from inference.models import LabJob

router = Router()

LabId = Annotated[int, Path(ge=1, le=MAX_ID, description="The lab's id.")]


def created(job: LabJob) -> Status[dict[str, object]]:
    return Status(201, {"id": job.pk, "kind": job.kind, "status": job.status})


@router.post(
    "/pipeline",
    response={201: LabCreatedOut, **WRITE},
    url_name="api_lab_pipeline",
    summary="The candidate set after each sampler stage at one step of a finished run",
)
def labs_pipeline(request: MemberRequest, payload: PipelineIn) -> Any:
    run = own_run(request, payload.run)
    job = services.lab_create(
        membership=run.membership, create=lambda: labs.lab_pipeline_create(run=run, step=payload.step)
    )
    return created(job)


@router.post(
    "/sweep",
    response={201: LabCreatedOut, **WRITE},
    url_name="api_lab_sweep",
    summary="One prompt at several temperatures with N seeds each, and one step's distribution per temperature",
)
def labs_sweep(request: MemberRequest, payload: SweepIn) -> Any:
    model = available_model(payload.model)
    job = services.lab_create(
        membership=request.auth,
        create=lambda: labs.lab_sweep_create(
            membership=request.auth,
            model=model,
            request=payload.run_request(),
            temperatures=[float(t) for t in payload.temperatures],
            seeds=payload.seeds,
            max_tokens=payload.max_tokens,
            step=payload.step,
        ),
    )
    return created(job)


@router.post(
    "/speculative",
    response={201: LabCreatedOut, **WRITE},
    url_name="api_lab_speculative",
    summary="Speculative decoding with prompt lookup or a smaller draft model: drafts, acceptance, speed-up",
)
def labs_speculative(request: MemberRequest, payload: SpeculativeIn) -> Any:
    model = available_model(payload.model)
    draft_model = available_model(payload.draft_model, field="draft_model") if payload.draft_model else None
    params = run_params(payload, model)
    job = services.lab_create(
        membership=request.auth,
        create=lambda: labs.lab_speculative_create(
            membership=request.auth,
            model=model,
            request=payload.run_request(),
            draft_kind=payload.draft,
            draft_model=draft_model,
            params=params,
            k=payload.k,
            max_tokens=params["max_tokens"],
            seed=services.new_seed() if payload.seed is None else payload.seed,
        ),
    )
    return created(job)


@router.post(
    "/quantization",
    response={201: LabCreatedOut, **WRITE},
    url_name="api_lab_quantization",
    summary="Quantized variants made with llama.cpp, compared on size, speed and agreement",
)
def labs_quantization(request: MemberRequest, payload: QuantizationIn) -> Any:
    model = available_model(payload.model)
    job = services.lab_create(
        membership=request.auth,
        create=lambda: labs.lab_quantization_create(
            membership=request.auth,
            model=model,
            types=list(payload.types),
        ),
    )
    return created(job)


@router.get("/{id}", response={200: LabOut, **READ}, url_name="api_lab", summary="A lab: its input and result")
def labs_detail(request: MemberRequest, id: LabId) -> Any:
    job = selectors.lab_visible_to(user=request.user, job_id=id)
    if job is None:
        raise ApiError(404, "No such lab.")
    return selectors.lab_as_dict(job)


@router.post(
    "/{id}/share",
    response={200: LabOut, **SEND},
    url_name="api_lab_share",
    summary="Let your cohort open this lab (only its owner can share it)",
)
def labs_share(request: MemberRequest, id: LabId) -> Any:
    job = selectors.lab_visible_to(user=request.user, job_id=id)
    if job is None or job.membership.user_id != request.user.pk:
        raise ApiError(404, "No such lab.")
    job.shared = True
    job.save(update_fields=["shared"])
    return selectors.lab_as_dict(job)
