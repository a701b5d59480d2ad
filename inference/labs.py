"""Sandbox labs computed in a worker: the sampler pipeline at one step, temperature sweeps,
speculative decoding (`inference/speculative.py`) and quantization (`inference/quantization.py`).

The pipeline and the sweep read real logits from the model; distributions shown to
learners are computed from logits stored with the job, so they can be checked exactly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from config.publish import publish_after_commit
from inference import tasks
from inference.errors import Refused
from inference.models import LabJob, LabKind, RunStatus, SandboxModel, SandboxRun
from inference.quantization import (
    QUANT_TYPES,
    QuantizationError,
    compare_variants,
    estimated_variant_bytes,
    quantize_variant,
    variant_quota_check,
)
from inference.sampling import SamplerParams, sampling_distribution, softmax, top_n
from inference.services import announce_finished_work

if TYPE_CHECKING:
    from cohort.models import Membership
    from inference.engine import Engine

logger = logging.getLogger(__name__)

SWEEP_TEMPERATURES = (0.0, 0.3, 0.7, 1.0, 1.5)
SWEEP_TOP = 10


class LabError(Refused):
    """Input a lab cannot use; the message says why."""


def _logits_bytes(logits: np.ndarray) -> bytes:
    return logits.astype(np.float32).tobytes()


def stored_logits(job: LabJob) -> np.ndarray:
    return np.frombuffer(bytes(job.logits or b""), dtype=np.float32).astype(np.float64)


# --- Creating ---------------------------------------------------------------------


@transaction.atomic
def lab_pipeline_create(*, run: SandboxRun, step: int) -> LabJob:
    if run.status != RunStatus.DONE:
        raise LabError("The run has to be finished first.")
    if not 0 <= step < len(run.tokens):
        raise LabError(f"step must be between 0 and {len(run.tokens) - 1}.")
    job = LabJob.objects.create(
        membership=run.membership, model=run.model, kind=LabKind.PIPELINE, input={"run": run.pk, "step": step}
    )
    publish_after_commit(tasks.execute_lab, job_id=job.pk)
    return job


@transaction.atomic
def lab_sweep_create(
    *,
    membership: Membership,
    model: SandboxModel,
    request: dict[str, Any],
    temperatures: list[float],
    seeds: int,
    max_tokens: int,
    step: int,
) -> LabJob:
    if not 1 <= len(temperatures) <= 8 or any(not 0 <= t <= 2 for t in temperatures):
        raise LabError("Give 1 to 8 temperatures between 0 and 2.")
    if not 1 <= seeds <= 8:
        raise LabError("seeds must be between 1 and 8.")
    if not 1 <= max_tokens <= 64:
        raise LabError("max_tokens must be between 1 and 64 for a sweep.")
    if not 0 <= step < max_tokens:
        raise LabError("step must be below max_tokens.")
    job = LabJob.objects.create(
        membership=membership,
        model=model,
        kind=LabKind.SWEEP,
        input={
            "request": request,
            "temperatures": temperatures,
            "seeds": seeds,
            "max_tokens": max_tokens,
            "step": step,
        },
    )
    publish_after_commit(tasks.execute_lab, job_id=job.pk)
    return job


# --- Executing ----------------------------------------------------------------------


# One lab at a time per worker process: labs share the process's cached Llama objects
# (load_model), which are not thread-safe, and the pool runs tasks in threads. A lab
# waiting here is still "queued". Runs do not wait for labs: they use the batch engine.
_lab_lock = threading.Lock()


def lab_execute(*, job_id: int, worker: str = "") -> str | None:
    with _lab_lock:
        return _lab_execute(job_id=job_id, worker=worker)


def _lab_execute(*, job_id: int, worker: str) -> str | None:
    claimed = (
        LabJob.objects.filter(pk=job_id)
        .filter(Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING, attempts__lt=2))
        .update(status=RunStatus.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now(), worker=worker)
    )
    if not claimed:
        return None
    job = LabJob.objects.select_related("model").get(pk=job_id)
    try:
        result, logits = _LABS[job.kind](job)
    except Exception as exc:
        from inference.services import internal_error_message

        if isinstance(exc, LabError | QuantizationError):
            error = str(exc)  # written for the learner
        else:
            logger.exception("lab %s failed", job.pk)
            error = internal_error_message("lab", job.pk)
        # Only while still running: the sweep may already have ended it at the time limit.
        LabJob.objects.filter(pk=job.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, error=error, finished_at=timezone.now()
        )
        return RunStatus.FAILED
    if not LabJob.objects.filter(pk=job.pk, status=RunStatus.RUNNING).update(
        status=RunStatus.DONE,
        result=result,
        logits=_logits_bytes(logits) if logits is not None else None,
        finished_at=timezone.now(),
    ):
        return None
    announce_finished_work(membership_id=job.membership_id)
    return RunStatus.DONE


def _engine(model: SandboxModel) -> Engine:
    from inference.engine import Engine, load_model

    llm, _ = load_model(model.path, n_ctx=settings.SANDBOX_N_CTX)
    return Engine(llm)


def _pipeline(job: LabJob) -> tuple[dict[str, Any], np.ndarray]:
    from inference.generation import build_prompt_ids, sampler_params

    run = SandboxRun.objects.select_related("model").get(pk=job.input["run"])
    step = job.input["step"]
    engine = _engine(run.model)
    prompt = build_prompt_ids(engine, run.model, run.request)
    before = [t["id"] for t in run.tokens[:step]]
    logits = engine.logits_after(prompt.ids, before)
    params = sampler_params(run.params)
    trace = sampling_distribution(logits, prompt.ids + before, params)
    chosen = run.tokens[step]["id"]
    stages, previous = [], None
    for stage in trace.stages:
        entry: dict[str, Any] = {
            "name": stage.name,
            "size": stage.size,
            "removed": (previous.size - stage.size) if previous is not None else 0,
            # Probability mass (under the previous stage) of the tokens this stage kept.
            "mass_kept": float(previous.probs[np.isin(previous.ids, stage.ids)].sum()) if previous is not None else 1.0,
            "top": engine.choices(top_n(stage.probs, stage.ids, 20)),
        }
        where = np.nonzero(stage.ids == chosen)[0]
        if len(where):
            rank = int((stage.probs > stage.probs[where[0]]).sum()) + 1
            entry["chosen"] = {"rank": rank, "p": float(stage.probs[where[0]])}
        else:
            entry["chosen"] = None
        stages.append(entry)
        previous = stage
    result = {
        "run": run.pk,
        "step": step,
        "chosen": {"id": chosen, "text": engine.token_text(chosen)},
        "params": run.params,
        "stages": stages,
    }
    return result, logits


def _sweep(job: LabJob) -> tuple[dict[str, Any], np.ndarray]:
    from inference.generation import build_prompt_ids

    data = job.input
    engine = _engine(job.model)
    prompt = build_prompt_ids(engine, job.model, data["request"])
    rows, step_logits = [], None
    for temperature in data["temperatures"]:
        params = SamplerParams(temperature=temperature, top_k=0, top_p=1.0, min_p=0.0)
        outputs: list[str] = []
        entropies: list[float] = []
        for seed in range(1, data["seeds"] + 1):
            generation = engine.generate(
                prompt.ids, params=params, seed=seed, max_tokens=data["max_tokens"], top_n_count=1
            )
            outputs.append(generation.output_text)
            # Entropy of the distribution each token was drawn from, in bits.
            entropies.extend(t.entropy_bits for t in generation.tokens)
        rows.append(
            {
                "temperature": temperature,
                "distinct_outputs": len(set(outputs)),
                "outputs": outputs,
                "mean_entropy_bits": float(np.mean(entropies)) if entropies else 0.0,
            }
        )
    # The step's logits on the greedy path: the same context for every temperature.
    greedy = engine.generate(
        prompt.ids, params=SamplerParams(temperature=0), seed=0, max_tokens=data["step"] + 1, top_n_count=1
    )
    path = [t.id for t in greedy.tokens[: data["step"]]]
    context = prompt.ids + path
    step_logits = engine.logits_after(prompt.ids, path)
    distributions = [
        {"temperature": t, "top": engine.choices(temperature_top(step_logits, t, SWEEP_TOP))}
        for t in data["temperatures"]
    ]
    return {
        "rows": rows,
        "step": data["step"],
        "step_context_tail": engine.token_text(context[-1]) if context else "",
        "distributions": distributions,
    }, step_logits


def temperature_distribution(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) over the whole vocabulary; T = 0 is all mass on the argmax."""
    if temperature <= 0:
        probs = np.zeros_like(logits, dtype=np.float64)
        probs[int(np.argmax(logits))] = 1.0
        return probs
    return softmax(logits / temperature)


def temperature_top(logits: np.ndarray, temperature: float, n: int) -> list[tuple[int, float]]:
    return top_n(temperature_distribution(logits, temperature), np.arange(len(logits)), n)


@transaction.atomic
def lab_speculative_create(
    *, membership: Membership, model: SandboxModel, request: dict[str, Any], draft_kind: str, draft_model: SandboxModel | None,
    params: dict[str, Any], k: int, max_tokens: int, seed: int,
) -> LabJob:  # fmt: skip
    if draft_kind not in ("prompt_lookup", "model"):
        raise LabError("draft must be prompt_lookup or model.")
    if draft_kind == "model":
        if draft_model is None:
            raise LabError("A model draft needs draft_model.")
        if draft_model.n_vocab != model.n_vocab:
            raise LabError("The draft model must share the target's tokenizer (same vocabulary).")
    if not 1 <= k <= 8:
        raise LabError("k (tokens drafted per step) must be between 1 and 8.")
    if not 1 <= max_tokens <= 256:
        raise LabError("max_tokens must be between 1 and 256.")
    job = LabJob.objects.create(
        membership=membership,
        model=model,
        kind=LabKind.SPECULATIVE,
        input={
            "request": request,
            "draft": draft_kind,
            "draft_model": draft_model.slug if draft_model else None,
            "params": params,
            "k": k,
            "max_tokens": max_tokens,
            "seed": seed,
        },  # fmt: skip
    )
    publish_after_commit(tasks.execute_lab, job_id=job.pk)
    return job


def _speculative(job: LabJob) -> tuple[dict[str, Any], None]:
    from inference.engine import Engine, load_model
    from inference.generation import build_prompt_ids, sampler_params
    from inference.speculative import ModelDraft, prompt_lookup, speculative_generate

    data = job.input
    target = _engine(job.model)
    prompt = build_prompt_ids(target, job.model, data["request"])
    params = sampler_params(data["params"])
    plain = target.generate(prompt.ids, params=params, seed=data["seed"], max_tokens=data["max_tokens"], top_n_count=1)
    draft: Callable[[list[int], int, np.random.Generator], tuple[list[int], list[np.ndarray] | None]]
    if data["draft"] == "model":
        draft_model = SandboxModel.objects.get(slug=data["draft_model"])
        # Another context size keeps the draft's Llama apart from the target's even for the same file.
        drafter = ModelDraft(Engine(load_model(draft_model.path, n_ctx=settings.SANDBOX_N_CTX // 2)[0]), params)
        draft = drafter.propose
    else:
        draft = lambda context, k, rng: (prompt_lookup(context, k), None)  # noqa: E731
    spec = speculative_generate(
        target, prompt.ids, params=params, seed=data["seed"], max_tokens=data["max_tokens"], k=data["k"], draft=draft
    )
    plain_ids = [t.id for t in plain.tokens]
    steps = [
        {
            "drafted": [{"id": t, "text": target.token_text(t)} for t in s.drafted],
            "accepted": s.accepted,
            "emitted": [{"id": t, "text": target.token_text(t)} for t in s.emitted],
        }  # fmt: skip
        for s in spec.steps
    ]
    result = {
        "output_text": b"".join(
            target.token_bytes(t) for t in spec.tokens if not target.is_end_of_generation(t)
        ).decode("utf-8", errors="replace"),
        "steps": steps,
        "acceptance_rate": spec.acceptance_rate,
        "acceptance_by_position": spec.acceptance_by_position(data["k"]),
        "speculative_seconds": spec.seconds,
        "plain_seconds": plain.prompt_seconds + plain.generate_seconds,
        "speed_up": (plain.prompt_seconds + plain.generate_seconds) / spec.seconds if spec.seconds else None,
        "target_calls": len(spec.steps),
        "tokens": len(spec.tokens),
        "same_as_plain": spec.tokens == plain_ids,
        "greedy": params.greedy,
    }
    return result, None


@transaction.atomic
def lab_quantization_create(*, membership: Membership, model: SandboxModel, types: list[str]) -> LabJob:
    """Queue variants of a registry model; refused when they would not fit the learner's or the site's disk quota."""
    unknown = [t for t in types if t not in QUANT_TYPES]
    if not types or unknown:
        raise LabError(f"types must be some of {', '.join(QUANT_TYPES)}.")
    types = list(dict.fromkeys(types))
    estimate = sum(estimated_variant_bytes(model, t) for t in types)
    # The learner's earlier labs are counted under a lock on their user row (the quota is per
    # person, across cohorts), so two requests at once cannot both pass it.
    get_user_model().objects.select_for_update().filter(pk=membership.user_id).first()
    try:
        variant_quota_check(membership=membership, adding=estimate)
    except QuantizationError as exc:
        raise LabError(str(exc)) from None
    job = LabJob.objects.create(
        membership=membership,
        model=model,
        kind=LabKind.QUANTIZATION,
        input={"types": types, "estimated_bytes": estimate},
    )
    publish_after_commit(tasks.execute_lab, job_id=job.pk)
    return job


def _quantization(job: LabJob) -> tuple[dict[str, Any], None]:
    source = job.model
    variants = [source] + [quantize_variant(lab=job, model=source, qtype=t) for t in job.input["types"]]
    result = compare_variants(variants)
    # Every variant is requantized from the installed file, so a higher-bit one (the reference) keeps
    # that file's rounding: the page says so, or a low agreement with "the reference" reads as a bug.
    for row in result["rows"]:
        row["origin"] = "installed" if row["slug"] == source.slug else "requantized"
    result["source"] = {"slug": source.slug, "quantization": source.quantization}
    return result, None


# Keyed by the stored kind (a str); LabKind members are str.
_LABS: dict[str, Callable[[LabJob], tuple[dict[str, Any], np.ndarray | None]]] = {
    LabKind.PIPELINE: _pipeline,
    LabKind.SWEEP: _sweep,
    LabKind.SPECULATIVE: _speculative,
    LabKind.QUANTIZATION: _quantization,
}
