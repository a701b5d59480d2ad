"""Reads for the sandbox API and pages. A learner reads their own runs, and runs shared in their cohort."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from cohort.models import User
from inference.models import RunStatus, SandboxModel, SandboxRun
from inference.registry import PREFERRED_DEFAULTS

if TYPE_CHECKING:
    from inference.engine import Engine
    from inference.models import LabJob

# Models whose weights are random: their tokens and templates are real, their answers are not.
MODEL_NOTES = {
    "qwen3-tiny": "Real Qwen3 tokenizer and chat template, random weights: for prompts and tokens, not for answers.",
}


def models_as_dicts() -> list[dict[str, Any]]:
    return [
        {
            "slug": m.slug,
            "name": m.name,
            "architecture": m.architecture,
            "n_vocab": m.n_vocab,
            "context_length": m.context_length,
            "quantization": m.quantization,
            "size_bytes": m.size_bytes,
            "available": m.available,
            "supports_thinking": m.supports_thinking,
            "note": MODEL_NOTES.get(m.slug, ""),
        }
        for m in SandboxModel.objects.all()
    ]


def default_model_slug(models: list[dict[str, Any]]) -> str:
    """A trained model when one is available, so a newcomer's first run reads like language."""
    available: list[str] = [m["slug"] for m in models if m["available"]]
    for slug in PREFERRED_DEFAULTS:
        if slug in available:
            return slug
    trained = [slug for slug in available if slug not in MODEL_NOTES]
    return (trained or available or [""])[0]


def vocab_engine(model: SandboxModel) -> Engine:
    """An engine over the model's vocabulary only: tokenizing in the web process loads no weights."""
    from inference.engine import Engine, load_vocab

    return Engine(load_vocab(model.path))


def runs_for_user(*, user: User) -> QuerySet[SandboxRun]:
    return SandboxRun.objects.filter(membership__user=user).select_related("model").order_by("-created_at")


def run_for_user(*, user: User, run_id: int) -> SandboxRun | None:
    return runs_for_user(user=user).filter(pk=run_id).first()


def run_visible_to(*, user: User, run_id: int) -> SandboxRun | None:
    """A learner's own run, or a run its owner shared with a cohort the viewer belongs to.

    Leads get no more than learners here: an unshared run is the learner's own
    scratch space, as with labs. The exception is a run of a live experiment,
    which its cohort's leads can open (learners see only the aggregate).
    """
    from django.db.models import Q

    return (
        SandboxRun.objects.select_related("model", "membership__user")
        .filter(pk=run_id)
        .filter(
            Q(membership__user=user)
            | Q(shared=True, membership__cohort__memberships__user=user)
            | Q(
                experiment_entry__experiment__cohort__memberships__user=user,
                experiment_entry__experiment__cohort__memberships__role="lead",
            )
        )
        .distinct()
        .first()
    )


def runs_visible_to(*, user: User, run_ids: list[int]) -> dict[int, SandboxRun]:
    """Several runs in one query, by id; ids the viewer may not see are missing. Loads only what a
    permission check and a cache key need: no tokens, output or request JSON (decoding those was
    the compare page's cost); see compare_cache."""
    from django.db.models import Q

    runs = (
        SandboxRun.objects.only("pk", "status", "shared", "created_at", "membership_id")
        .filter(pk__in=run_ids)
        .filter(Q(membership__user=user) | Q(shared=True, membership__cohort__memberships__user=user))
        .distinct()
    )
    return {run.pk: run for run in runs}


def runs_by_id(*, run_ids: list[int]) -> dict[int, SandboxRun]:
    """Runs with their model, no permission filter: only for ids already checked."""
    return {run.pk: run for run in SandboxRun.objects.select_related("model").filter(pk__in=run_ids)}


def run_summary(run: SandboxRun) -> dict[str, Any]:
    request = run.request or {}
    first = (
        (request.get("messages") or [{}])[-1].get("content") if request.get("messages") else request.get("prompt", "")
    )
    return {
        "id": run.pk,
        "status": run.status,
        "model": run.model.slug,
        "seed": run.seed,
        "temperature": run.params.get("temperature"),
        "prompt_preview": (first or "")[:120],
        "output_preview": run.output_text[:120],
        "error": run.error[:200] if run.status == RunStatus.FAILED else "",
        "created_at": run.created_at.isoformat(),
    }


def streamed_tokens(*, run_id: int, since: int = 0) -> tuple[list[dict[str, Any]], str]:
    """A running run's tokens from index `since`, from its appended chunks (see RunTokenChunk), and its output so far."""
    from inference.models import RunTokenChunk

    tokens, text = [], ""
    for chunk in RunTokenChunk.objects.filter(run_id=run_id).order_by("start"):
        end = chunk.start + len(chunk.tokens)
        if end > since:
            tokens.extend(chunk.tokens[max(0, since - chunk.start) :])
        text = chunk.output_text
    return tokens, text


def run_as_dict(run: SandboxRun, *, since: int = 0) -> dict[str, Any]:
    tokens, output_text = run.tokens, run.output_text
    if run.status == RunStatus.RUNNING:
        tokens, output_text = streamed_tokens(run_id=run.pk, since=since)
    elif since:
        tokens = tokens[since:]
    return {
        "since": since,
        "token_count": since + len(tokens),
        "id": run.pk,
        "status": run.status,
        "queue_position": queue_position(run=run),
        "model": run.model.slug,
        "request": run.request,
        "params": run.params,
        "rendered_prompt": run.rendered_prompt,
        "prompt_tokens": run.prompt_tokens,
        "output_text": output_text,
        "tokens": tokens,
        "finish_reason": run.finish_reason,
        "timings": run.timings,
        "error": run.error,
        "created_at": run.created_at.isoformat(),
        "parent": run.parent_id,
        "branch_step": run.branch_step,
    }


def run_tree(*, root: SandboxRun) -> dict[str, Any]:
    """The run and every branch below it, nested, from one query over the learner's runs."""
    runs = list(
        SandboxRun.objects.filter(membership=root.membership).only(
            "pk", "parent_id", "branch_step", "status", "output_text", "tokens", "created_at"
        )
    )
    children: dict[int | None, list[SandboxRun]] = {}
    for run in runs:
        children.setdefault(run.parent_id, []).append(run)

    def node(run: SandboxRun) -> dict[str, Any]:
        chosen = (
            run.tokens[run.branch_step] if run.branch_step is not None and run.branch_step < len(run.tokens) else None
        )
        return {
            "id": run.pk,
            "status": run.status,
            "branch_step": run.branch_step,
            "branch_token": chosen and {"id": chosen["id"], "text": chosen["text"], "p_model": chosen["p_model"]},
            "output_text": run.output_text,
            # Per token, so a long path and a short one compare fairly (a path's product does not).
            **_score_fields(run.tokens or []),
            "branches": [node(child) for child in sorted(children.get(run.pk, []), key=lambda r: r.created_at)],
        }

    return node(root)


def queue_position(*, run: SandboxRun) -> int | None:
    if run.status != RunStatus.QUEUED:
        return None
    return SandboxRun.objects.filter(status=RunStatus.QUEUED, created_at__lt=run.created_at).count() + 1


def lab_visible_to(*, user: User, job_id: int) -> LabJob | None:
    """A learner's own lab jobs, and jobs shared in a cohort they belong to."""
    from django.db.models import Q

    from inference.models import LabJob

    return (
        LabJob.objects.select_related("model", "membership__user")
        .filter(pk=job_id)
        .filter(Q(membership__user=user) | Q(shared=True, membership__cohort__memberships__user=user))
        .distinct()
        .first()
    )


def lab_as_dict(job: LabJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "model": job.model.slug,
        "input": job.input,
        "result": job.result,
        "error": job.error,
        "shared": job.shared,
        "owner": job.membership.user.display_name,
        "created_at": job.created_at.isoformat(),
    }


def model_inspection(model: SandboxModel, inspect: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """Cached per file and checksum: the header of a 150k-token vocabulary takes a moment to walk."""
    from django.core.cache import cache

    key = f"gguf-inspect:{model.slug}:{model.sha256 or model.size_bytes}"
    result: dict[str, Any] | None = cache.get(key)
    if result is None:
        result = inspect(model.path)
        cache.set(key, result, 24 * 3600)
    return result


def labs_for_user(*, user: User) -> QuerySet[LabJob]:
    from inference.models import LabJob

    return LabJob.objects.filter(membership__user=user).select_related("model").order_by("-created_at")


# --- Comparing two runs ----------------------------------------------------------------
# Probabilities are the model's own (p_model, before sampling): perplexity measures how
# surprised the model was by the text, whatever sampler picked it. A probability of 0
# (a forced token the model ruled out) is floored so the mean stays finite.
P_FLOOR = 1e-12


@dataclass(frozen=True)
class RunScore:
    tokens: int
    mean_logprob: float | None
    perplexity: float | None


def run_score(tokens: list[dict[str, Any]]) -> RunScore:
    """Mean log-probability per token and perplexity, so outputs of different lengths compare fairly."""
    if not tokens:
        return RunScore(tokens=0, mean_logprob=None, perplexity=None)
    mean = sum(math.log(max(float(t.get("p_model") or 0.0), P_FLOOR)) for t in tokens) / len(tokens)
    return RunScore(tokens=len(tokens), mean_logprob=mean, perplexity=math.exp(-mean))


@dataclass(frozen=True)
class AlignedToken:
    position: int  # in the output, from 1
    a: dict[str, Any] | None
    b: dict[str, Any] | None
    same: bool
    first_divergence: bool


def align_tokens(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> tuple[list[AlignedToken], int | None]:
    """The two outputs side by side, position by position, and the first position (from 1) where they differ.

    Both runs start right after the same kind of prompt, so position i of one is the
    token the other chose in the same slot; after a divergence the rows keep going
    by position, which is what "what came next" means for two samples.
    """
    rows: list[AlignedToken] = []
    divergence: int | None = None
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        same = x is not None and y is not None and x.get("id") == y.get("id")
        first = not same and divergence is None
        if first:
            divergence = i + 1
        rows.append(AlignedToken(position=i + 1, a=x, b=y, same=same, first_divergence=first))
    return rows, divergence


SETTING_LABELS = {
    "temperature": "Temperature",
    "top_k": "Top-k",
    "top_p": "Top-p",
    "min_p": "Min-p",
    "repeat_penalty": "Repeat penalty",
    "presence_penalty": "Presence penalty",
    "frequency_penalty": "Frequency penalty",
    "max_tokens": "Max tokens",
    "top_n": "Alternatives",
}


def run_settings(run: SandboxRun) -> list[tuple[str, str]]:
    """What a learner chose for a run, as label/value pairs in a fixed order."""
    request = run.request or {}
    params = run.params or {}
    if request.get("messages") is not None:
        prompt = "\n".join(f"{m.get('role')}: {m.get('content')}" for m in request["messages"])
    else:
        prompt = str(request.get("prompt", ""))
    thinking = request.get("enable_thinking")
    rows = [
        ("Model", run.model.slug),
        ("Input", "chat" if request.get("messages") is not None else "raw prompt"),
        ("Prompt", prompt),
        ("Template", "custom" if request.get("template") else "the model's own"),
        ("Thinking", "–" if thinking is None else ("on" if thinking else "off")),
        ("Seed", str(run.seed)),
    ]
    rows += [(label, str(params.get(name, "–"))) for name, label in SETTING_LABELS.items()]
    return rows


@dataclass(frozen=True)
class RunComparison:
    a: SandboxRun
    b: SandboxRun
    settings: list[tuple[str, str, str, bool]]  # label, value in a, value in b, differs
    rows: list[AlignedToken]
    first_divergence: int | None
    score_a: RunScore
    score_b: RunScore


def run_comparison(*, a: SandboxRun, b: SandboxRun) -> RunComparison:
    """Two stored runs side by side; computed from their stored tokens, no queries."""
    settings = [(label, x, y, x != y) for (label, x), (_, y) in zip(run_settings(a), run_settings(b), strict=True)]
    rows, divergence = align_tokens(a.tokens or [], b.tokens or [])
    return RunComparison(
        a=a,
        b=b,
        settings=settings,
        rows=rows,
        first_divergence=divergence,
        score_a=run_score(a.tokens or []),
        score_b=run_score(b.tokens or []),
    )


def _score_fields(tokens: list[dict[str, Any]]) -> dict[str, float | None]:
    score = run_score(tokens)
    return {"mean_logprob": score.mean_logprob, "perplexity": score.perplexity}
