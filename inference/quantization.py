"""Quantization lab: make variants of a model with llama.cpp, then compare them on the same text.

Quality is measured against the highest-precision variant: greedy output
agreement, top-1 agreement and the mean KL divergence of next-token
distributions over a fixed text (teacher forcing), next to size, load time
and speed.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from inference.errors import Refused
from inference.models import LabJob, LabKind, ModelVariant, RunStatus, SandboxModel
from inference.registry import read_gguf_metadata
from inference.sampling import SamplerParams, softmax

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from cohort.models import Membership
    from inference.engine import Engine

# Ordered from most to least precise.
QUANT_TYPES = {"F16": 1, "Q8_0": 7, "Q4_K_M": 15, "Q4_0": 2}
BITS_RANK = {
    "F32": 32,
    "F16": 16,
    "BF16": 16,
    "Q8_0": 8,
    "Q6_K": 6,
    "Q5_K_M": 5.5,
    "Q5_0": 5,
    "Q4_1": 4.5,
    "Q4_K_M": 4.5,
    "Q4_0": 4,
}
COMPARE_TEXT = (
    "Temperature controls how sharp the next-token distribution is. At zero the model always takes its most "
    "likely token; higher values flatten the distribution so less likely tokens are drawn more often."
)
GENERATE_PROMPT = "The capital of France is"


class QuantizationError(Refused):
    """A quantization the lab cannot make; the message says why."""


def variant_slug(model: SandboxModel, qtype: str) -> str:
    return f"{model.slug}-{qtype.lower().replace('_', '-')}"


def variants_dir() -> Path:
    return Path(settings.SANDBOX_MODELS_DIR) / "variants"


def estimated_variant_bytes(model: SandboxModel, qtype: str) -> int:
    """Roughly what a `qtype` copy of `model` takes: its size scaled by bits per weight."""
    source_bits = BITS_RANK.get(model.quantization, 8)
    return int(model.size_bytes * BITS_RANK.get(qtype, 16) / source_bits)


# --- Quotas -------------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB"


def _reserved_bytes(jobs: QuerySet[LabJob]) -> int:
    """Bytes promised to quantization labs that have not made their variants yet."""
    total = 0
    for job in jobs.filter(kind=LabKind.QUANTIZATION, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)):
        made = ModelVariant.objects.filter(lab=job).aggregate(s=Sum("size_bytes"))["s"] or 0
        total += max(int(job.input.get("estimated_bytes", 0)) - made, 0)
    return total


def variant_quota_check(*, membership: Membership, adding: int, exclude_job: LabJob | None = None) -> None:
    """Raise QuantizationError unless `adding` more bytes fit the learner's and the site's quotas.

    Counted: variants on disk, plus what queued quantization labs are expected to write.
    """
    jobs = LabJob.objects.all() if exclude_job is None else LabJob.objects.exclude(pk=exclude_job.pk)
    mine_jobs = jobs.filter(membership__user_id=membership.user_id)
    on_disk = ModelVariant.objects.filter(lab__membership__user_id=membership.user_id)
    mine = (on_disk.aggregate(s=Sum("size_bytes"))["s"] or 0) + _reserved_bytes(mine_jobs)
    everyone = (ModelVariant.objects.aggregate(s=Sum("size_bytes"))["s"] or 0) + _reserved_bytes(jobs)
    quota = settings.SANDBOX_VARIANT_QUOTA_MB * 1024 * 1024
    total_quota = settings.SANDBOX_VARIANTS_TOTAL_QUOTA_MB * 1024 * 1024
    days = settings.SANDBOX_VARIANT_RETENTION_DAYS
    if mine + adding > quota:
        raise QuantizationError(
            f"Your quantized variants would take {_mb(mine + adding)} of disk; each learner may use {_mb(quota)}. "
            f"Variants are deleted {days} days after their lab; choose fewer or smaller types until then."
        )
    if everyone + adding > total_quota:
        raise QuantizationError(
            f"The sandbox's disk for quantized variants is full ({_mb(everyone)} of {_mb(total_quota)} in use). "
            f"Variants are deleted {days} days after their lab: try again later or ask a lead."
        )


# --- Making a variant -----------------------------------------------------------------------


def quantize_variant(*, lab: LabJob, model: SandboxModel, qtype: str) -> SandboxModel:
    """Requantize `model` to `qtype` for `lab`, recorded as the lab's ModelVariant (reused when present).

    Returns an unsaved SandboxModel describing the file (what compare_variants reads):
    a variant never enters the registry's model list.
    """
    from inference.engine import quantize_file

    if qtype not in QUANT_TYPES:
        raise QuantizationError(f"Unknown type {qtype}; choose from {', '.join(QUANT_TYPES)}.")
    existing = ModelVariant.objects.filter(lab=lab, quantization=qtype).first()
    if existing and Path(existing.path).exists():
        return _as_model(existing, model)
    variant_quota_check(membership=lab.membership, adding=estimated_variant_bytes(model, qtype), exclude_job=lab)
    folder = variants_dir() / f"lab-{lab.pk}"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{variant_slug(model, qtype)}.gguf"
    partial = dest.with_suffix(".gguf.partial")
    code = quantize_file(str(model.path), str(partial), ftype=QUANT_TYPES[qtype], nthread=settings.SANDBOX_N_THREADS)
    if code != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        raise QuantizationError(f"llama.cpp could not quantize {model.slug} to {qtype} (code {code}).")
    partial.replace(dest)
    variant, _ = ModelVariant.objects.update_or_create(
        lab=lab,
        quantization=qtype,
        defaults={"source": model, "path": str(dest), "size_bytes": dest.stat().st_size},
    )
    return _as_model(variant, model)


def _as_model(variant: ModelVariant, source: SandboxModel) -> SandboxModel:
    info = read_gguf_metadata(variant.path)
    return SandboxModel(
        slug=variant_slug(source, variant.quantization),
        name=f"{source.name} ({variant.quantization})",
        path=variant.path,
        size_bytes=variant.size_bytes,
        architecture=info.architecture,
        n_vocab=info.n_vocab,
        quantization=info.quantization,
        chat_template=info.chat_template,
        bos_token_id=info.bos_token_id,
        eos_token_id=info.eos_token_id,
        add_bos=info.add_bos,
    )


# --- Cleaning up ----------------------------------------------------------------------------


def variants_sweep(*, now: datetime | None = None) -> int:
    """Delete variants past their retention, and files no variant row owns (their lab was deleted).

    Safe to run twice and beside a running lab: a file is only taken when its row is
    gone and it is older than the longest a quantization may take.
    """
    now = now or timezone.now()
    removed = 0
    expired = ModelVariant.objects.filter(created_at__lt=now - timedelta(days=settings.SANDBOX_VARIANT_RETENTION_DAYS))
    for variant in list(expired):
        Path(variant.path).unlink(missing_ok=True)
        removed += ModelVariant.objects.filter(pk=variant.pk).delete()[0]
    folder = variants_dir()
    if not folder.is_dir():
        return removed
    owned = set(ModelVariant.objects.values_list("path", flat=True))
    settled = now.timestamp() - settings.SANDBOX_HARD_TIME_LIMIT * 2
    for file in folder.glob("lab-*/*"):
        if str(file) not in owned and file.stat().st_mtime < settled:
            file.unlink(missing_ok=True)
            removed += 1
    for lab_folder in folder.glob("lab-*"):
        if lab_folder.is_dir() and not any(lab_folder.iterdir()):
            lab_folder.rmdir()
    return removed


def _next_token_logits(engine: Engine, ids: list[int]) -> np.ndarray:
    """Logits after every prefix of `ids` (teacher forcing), evaluated one token at a time."""
    engine.llm.reset()
    rows = []
    for token in ids:
        engine.llm.eval([token])
        rows.append(engine._last_logits().astype(np.float64))
    return np.stack(rows)


def _kl(p_logits: np.ndarray, q_logits: np.ndarray) -> float:
    p, q = softmax(p_logits), softmax(q_logits)
    mask = p > 0
    return float(np.sum(p[mask] * (np.log(p[mask]) - np.log(np.maximum(q[mask], 1e-300)))))


def compare_variants(models: list[SandboxModel], *, max_tokens: int = 32) -> dict[str, Any]:
    from inference.engine import Engine, load_model

    ordered = sorted(models, key=lambda m: -BITS_RANK.get(m.quantization, 0))
    rows, reference_ids, reference_logits = [], None, None
    for model in ordered:
        started = time.perf_counter()
        llm, load_seconds = load_model(model.path, n_ctx=1024)
        load_seconds = load_seconds or (time.perf_counter() - started)
        engine = Engine(llm)
        prompt = engine.tokenize(GENERATE_PROMPT, special=False)
        generation = engine.generate(
            prompt, params=SamplerParams(temperature=0), seed=0, max_tokens=max_tokens, top_n_count=1
        )
        ids = [t.id for t in generation.tokens]
        text_ids = engine.tokenize(COMPARE_TEXT, special=False)
        logits = _next_token_logits(engine, text_ids)
        row: dict[str, Any] = {
            "slug": model.slug,
            "quantization": model.quantization,
            "size_bytes": Path(model.path).stat().st_size,
            "load_ms": round(load_seconds * 1000, 1),
            "tokens_per_second": round(len(ids) / generation.generate_seconds, 1)
            if generation.generate_seconds
            else None,
            "output_text": generation.output_text,
        }
        if reference_ids is None or reference_logits is None:
            reference_ids, reference_logits = ids, logits
            row.update(greedy_agreement=1.0, top1_agreement=1.0, mean_kl=0.0, reference=True)
        else:
            same = sum(a == b for a, b in zip(ids, reference_ids, strict=False))
            row["greedy_agreement"] = same / max(len(reference_ids), len(ids), 1)
            row["top1_agreement"] = float(np.mean(np.argmax(logits, axis=1) == np.argmax(reference_logits, axis=1)))
            row["mean_kl"] = float(np.mean([_kl(r, q) for r, q in zip(reference_logits, logits, strict=True)]))
            row["reference"] = False
        rows.append(row)
    return {
        "rows": rows,
        "text_tokens": int(len(reference_logits)) if reference_logits is not None else 0,
        "prompt": GENERATE_PROMPT,
    }
