"""Live cohort experiments: a lead starts, closes and reopens one, learners run it, everyone reads the aggregate."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Path, Router, Status

from cohort.models import Membership
from cohort.office_hours.selectors import session_for
from cohort.selectors import membership_for
from inference import experiment_selectors as selectors
from inference import experiments as services
from inference.api.auth import MemberRequest
from inference.api.errors import INVALID, ApiError
from inference.api.experiment_schemas import (
    ExperimentCreatedOut,
    ExperimentIn,
    ExperimentOut,
    ExperimentRunCreatedOut,
    ExperimentRunIn,
)
from inference.api.sandbox import READ, WRITE, available_model, run_params
from inference.api.schemas import MAX_ID, ErrorOut
from inference.models import Experiment

router = Router()

ExperimentId = Annotated[int, Path(ge=1, le=MAX_ID, description="The experiment's id.")]
# Starting a run can also be refused because the experiment is closed or the learner has had their runs.
RUN = {**WRITE, 409: ErrorOut}
DEFAULT_MAX_TOKENS = 32


def _refused(exc: services.ExperimentRefused) -> ApiError:
    if exc.field:
        return ApiError(400, INVALID, fields={exc.field: [str(exc)]})
    return ApiError(exc.status, str(exc))


def _member(request: MemberRequest, experiment_id: int) -> tuple[Experiment, Membership]:
    found = selectors.experiment_for_member(user=request.user, experiment_id=experiment_id)
    if found is None:
        raise ApiError(404, "No such experiment.")
    return found


def _lead(request: MemberRequest, experiment_id: int) -> tuple[Experiment, Membership]:
    experiment, membership = _member(request, experiment_id)
    if not selectors.is_lead(membership):
        raise ApiError(403, "Only the cohort's leads can do this.")
    return experiment, membership


@router.post(
    "",
    response={201: ExperimentCreatedOut, **WRITE},
    url_name="api_experiments",
    summary="Start a live experiment in a cohort you lead (one arm per temperature)",
    description=(
        "Learners of the cohort then run it once each (or `runs_per_learner` times) with their own seed; "
        "arms are assigned round robin. 404 for a cohort you are not in, 403 if you do not lead it."
    ),
)
def experiments_create(request: MemberRequest, payload: ExperimentIn) -> Any:
    membership = membership_for(user=request.user, cohort_slug=payload.cohort)
    if membership is None:
        raise ApiError(404, "No such cohort.")
    if not selectors.is_lead(membership):
        raise ApiError(403, "Only the cohort's leads can start an experiment.")
    model = available_model(payload.model)
    session = None
    if payload.session is not None:
        session = session_for(cohort=membership.cohort, number=payload.session)
        if session is None:
            raise ApiError(400, INVALID, fields={"session": [f"The cohort has no session {payload.session}."]})
    params = run_params(payload, model)
    params["max_tokens"] = payload.max_tokens or DEFAULT_MAX_TOKENS
    if payload.temperatures is not None:
        temperatures = payload.temperatures
    else:
        temperatures = [payload.temperature if payload.temperature is not None else float(params["temperature"])]
    try:
        experiment = services.experiment_start(
            membership=membership,
            session=session,
            title=payload.title,
            model=model,
            request=payload.run_request(),
            params=params,
            temperatures=temperatures,
            runs_per_learner=payload.runs_per_learner,
        )
    except services.ExperimentRefused as exc:
        raise _refused(exc) from None
    return Status(201, {"id": experiment.pk, "status": experiment.status, "arms": experiment.temperatures})


@router.get(
    "/{id}",
    response={200: ExperimentOut, **READ},
    url_name="api_experiment",
    summary="The results so far, per arm (the projected page polls this every second)",
    description="Members of the cohort see the aggregate; its leads also get `runs`, each run with its learner.",
)
def experiments_detail(request: MemberRequest, id: ExperimentId) -> Any:
    experiment, membership = _member(request, id)
    return selectors.experiment_results(experiment=experiment, for_lead=selectors.is_lead(membership))


@router.post(
    "/{id}/runs",
    response={201: ExperimentRunCreatedOut, **RUN},
    url_name="api_experiment_runs",
    summary="Run the lead's experiment: a normal run of yours, with your own recorded seed",
    description=(
        "Within your usual run limits (429). 409 when the experiment is closed or you already ran it as often "
        "as the lead allowed."
    ),
)
def experiments_run(request: MemberRequest, id: ExperimentId, payload: ExperimentRunIn) -> Any:
    experiment, membership = _member(request, id)
    try:
        run, _entry = services.experiment_run(experiment=experiment, membership=membership)
    except services.ExperimentRefused as exc:
        raise _refused(exc) from None
    return Status(201, {"run": run.pk, "temperature": run.params["temperature"], "seed": run.seed})


@router.post(
    "/{id}/close",
    response={200: ExperimentOut, **READ, 413: ErrorOut, 415: ErrorOut},
    url_name="api_experiment_close",
    summary="Close the experiment (leads): no new runs; runs already started still count",
)
def experiments_close(request: MemberRequest, id: ExperimentId) -> Any:
    experiment, _membership = _lead(request, id)
    experiment = services.experiment_close(experiment=experiment)
    return selectors.experiment_results(experiment=experiment, for_lead=True)


@router.post(
    "/{id}/reopen",
    response={200: ExperimentOut, **READ, 409: ErrorOut, 413: ErrorOut, 415: ErrorOut},
    url_name="api_experiment_reopen",
    summary="Reopen a closed experiment (leads): learners can run it again",
    description=(
        "Runs from before the close still count, and count against each learner's limit. Reopening an open "
        "experiment changes nothing (200). 409 when the experiment was started in a session that is not live "
        "any more (its results are that room's: start a new experiment instead). 404 for an experiment of "
        "another cohort, 403 for a member who does not lead it."
    ),
)
def experiments_reopen(request: MemberRequest, id: ExperimentId) -> Any:
    experiment, membership = _lead(request, id)
    try:
        experiment = services.experiment_reopen(experiment=experiment, membership=membership)
    except services.ExperimentRefused as exc:
        raise _refused(exc) from None
    return selectors.experiment_results(experiment=experiment, for_lead=True)
