"""Reads for the sandbox API and pages. A learner only ever reads their own runs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cohort.models import User
from inference.models import RunStatus, SandboxModel, SandboxRun


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
        }
        for m in SandboxModel.objects.all()
    ]


def vocab_engine(model: SandboxModel):  # type: ignore[no-untyped-def]
    """An engine over the model's vocabulary only: tokenizing in the web process loads no weights."""
    from inference.engine import Engine, load_vocab

    return Engine(load_vocab(model.path))


def runs_for_user(*, user: User) -> QuerySet[SandboxRun]:
    return SandboxRun.objects.filter(membership__user=user).select_related("model").order_by("-created_at")


def run_for_user(*, user: User, run_id: int) -> SandboxRun | None:
    return runs_for_user(user=user).filter(pk=run_id).first()


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
            "branches": [node(child) for child in sorted(children.get(run.pk, []), key=lambda r: r.created_at)],
        }

    return node(root)


def queue_position(*, run: SandboxRun) -> int | None:
    if run.status != RunStatus.QUEUED:
        return None
    return SandboxRun.objects.filter(status=RunStatus.QUEUED, created_at__lt=run.created_at).count() + 1


def lab_visible_to(*, user: User, job_id: int):  # type: ignore[no-untyped-def]
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


def lab_as_dict(job) -> dict[str, Any]:  # type: ignore[no-untyped-def]
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


def model_inspection(model: SandboxModel, inspect) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Cached per file and checksum: the header of a 150k-token vocabulary takes a moment to walk."""
    from django.core.cache import cache

    key = f"gguf-inspect:{model.slug}:{model.sha256 or model.size_bytes}"
    result = cache.get(key)
    if result is None:
        result = inspect(model.path)
        cache.set(key, result, 24 * 3600)
    return result


def labs_for_user(*, user: User):  # type: ignore[no-untyped-def]
    from inference.models import LabJob

    return LabJob.objects.filter(membership__user=user).select_related("model").order_by("-created_at")
