"""Quantization lab: make variants of a model with llama.cpp, then compare them on the same text.

Quality is measured against the highest-precision variant: greedy output
agreement, top-1 agreement and the mean KL divergence of next-token
distributions over a fixed text (teacher forcing), next to size, load time
and speed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from inference.models import SandboxModel
from inference.registry import model_register
from inference.sampling import SamplerParams, softmax

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


class QuantizationError(Exception):
    pass


def variant_slug(model: SandboxModel, qtype: str) -> str:
    return f"{model.slug}-{qtype.lower().replace('_', '-')}"


def quantize_variant(*, model: SandboxModel, qtype: str) -> SandboxModel:
    """Requantize `model` to `qtype` into SANDBOX_MODELS_DIR and register it (reused when present)."""
    import llama_cpp

    if qtype not in QUANT_TYPES:
        raise QuantizationError(f"Unknown type {qtype}; choose from {', '.join(QUANT_TYPES)}.")
    slug = variant_slug(model, qtype)
    existing = SandboxModel.objects.filter(slug=slug, available=True).first()
    if existing and Path(existing.path).exists():
        return existing
    folder = Path(settings.SANDBOX_MODELS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{slug}.gguf"
    partial = dest.with_suffix(".gguf.partial")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[qtype]
    # The offline sources are already quantized; llama.cpp refuses to requantize unless told.
    params.allow_requantize = True
    params.nthread = settings.SANDBOX_N_THREADS
    code = llama_cpp.llama_model_quantize(str(model.path).encode(), str(partial).encode(), params)
    if code != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        raise QuantizationError(f"llama.cpp could not quantize {model.slug} to {qtype} (code {code}).")
    partial.replace(dest)
    return model_register(slug=slug, name=f"{model.name} ({qtype})", path=dest)


def _next_token_logits(engine, ids: list[int]) -> np.ndarray:  # type: ignore[no-untyped-def]
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
        if reference_ids is None:
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
