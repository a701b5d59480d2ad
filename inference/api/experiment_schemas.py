"""Request and response shapes of the live cohort experiments (`inference/api/experiments.py`).

They build on the sandbox's shared shapes in `inference.api.schemas` (strict requests, the sampler
knobs, checked text); see that module for the rules every request follows.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import ConfigDict, Field, model_validator

from inference.api.schemas import MAX_ID, FieldError, Request, Response, SamplerKnobsIn, Slug, Text


class ExperimentIn(SamplerKnobsIn):
    cohort: Slug = Field(description="The slug of the cohort you lead.")
    session: int | None = Field(None, ge=1, le=MAX_ID, description="The number of the cohort's live session.")
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    temperature: float | None = Field(None, ge=0, le=2, description="One arm. 0 is greedy.")
    temperatures: Annotated[list[Annotated[float, Field(ge=0, le=2)]], Field(min_length=1, max_length=8)] | None = (
        Field(None, description="Several arms; learners are assigned to them round robin.")
    )
    max_tokens: int | None = Field(None, ge=1, le=settings.SANDBOX_MAX_TOKENS, description="Defaults to 32.")
    runs_per_learner: int = Field(1, ge=1, le=10, description="How many times each learner may run it.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cohort": "cohort-a",
                    "title": "Pick a colour",
                    "model": "smollm2-135m",
                    "messages": [{"role": "user", "content": "Name one colour."}],
                    "max_tokens": 8,
                    "temperatures": [0, 0.7, 1.5],
                }
            ]
        }
    )

    @model_validator(mode="after")
    def _one_temperature_field(self) -> ExperimentIn:
        if self.temperature is not None and self.temperatures is not None:
            raise FieldError("temperatures", "Send temperature (one arm) or temperatures (several), not both.")
        return self


class ExperimentRunIn(Request):
    """Nothing to choose: the lead chose the prompt and sampler, the arm is assigned, the seed is yours."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class ExperimentCreatedOut(Response):
    id: int
    status: Literal["open", "closed"]
    arms: list[float] = Field(description="The arms' temperatures.")


class ExperimentRunCreatedOut(Response):
    run: int = Field(description="Your run's id: GET /api/sandbox/runs/{id}.")
    temperature: float
    seed: int


class FirstTokenOut(Response):
    id: int
    text: str
    count: int
    p_predicted: float = Field(description="The model's probability for it at this arm's temperature (exact).")


class OutputGroupOut(Response):
    text: str
    count: int


class ArmOut(Response):
    temperature: float
    runs_done: int
    runs_pending: int
    runs_failed: int
    first_token: list[FirstTokenOut]
    other_p: float = Field(description="The probability of every first token not listed.")
    outputs: list[OutputGroupOut]
    distinct_outputs: int
    mean_entropy_bits: float | None
    fit_p_value: float | None = Field(description="Chi-square goodness of fit of the first tokens; null untestable.")
    fit_words: str


class ExperimentOut(Response):
    id: int
    status: Literal["open", "closed"]
    title: str
    model: str
    runs_per_learner: int
    total_runs: int
    arms: list[ArmOut]
    runs: list[dict[str, Any]] | None = Field(None, description="Leads only: each run with its learner.")
