"""The sampler chain, in numpy, over the full vocabulary.

The order is llama.cpp's default: penalties, top-k, top-p, min-p, then
temperature. Every stage is kept (`SamplerTrace`) so a page can show what
each one removed. Temperature 0 means greedy: the top token after penalties.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SamplerParams:
    temperature: float = 0.7
    top_k: int = 20
    top_p: float = 0.8
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    penalty_last_n: int = 64

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - np.max(logits)
    exp = np.exp(shifted)
    probs: np.ndarray = exp / exp.sum()
    return probs


def entropy_bits(probs: np.ndarray) -> float:
    nonzero = probs[probs > 0]
    return float(-(nonzero * np.log2(nonzero)).sum())


def top_n(probs: np.ndarray, ids: np.ndarray, n: int) -> list[tuple[int, float]]:
    """The `n` most likely (id, p) pairs, most likely first; ties broken by id."""
    if n <= 0 or len(ids) == 0:
        return []
    n = min(n, len(ids))
    part = np.argpartition(-probs, n - 1)[:n] if n < len(ids) else np.arange(len(ids))
    order = sorted(part.tolist(), key=lambda i: (-probs[i], int(ids[i])))
    return [(int(ids[i]), float(probs[i])) for i in order]


def apply_penalties(logits: np.ndarray, history: Sequence[int], params: SamplerParams) -> np.ndarray:
    """llama.cpp's penalties over the last `penalty_last_n` tokens (prompt included)."""
    if not history or (
        params.repeat_penalty == 1.0 and params.presence_penalty == 0.0 and params.frequency_penalty == 0.0
    ):
        return logits
    window = history[-params.penalty_last_n :] if params.penalty_last_n > 0 else history
    counts = Counter(window)
    ids = np.fromiter(counts.keys(), dtype=np.int64)
    ids = ids[ids < len(logits)]
    if len(ids) == 0:
        return logits
    freq = np.array([counts[int(i)] for i in ids], dtype=np.float64)
    out = logits.astype(np.float64, copy=True)
    chosen = out[ids]
    if params.repeat_penalty != 1.0:
        chosen = np.where(chosen > 0, chosen / params.repeat_penalty, chosen * params.repeat_penalty)
    chosen = chosen - freq * params.frequency_penalty - (freq > 0) * params.presence_penalty
    out[ids] = chosen
    return out


@dataclass
class StageResult:
    name: str
    ids: np.ndarray  # candidate ids left after the stage
    probs: np.ndarray  # their probabilities, renormalised

    @property
    def size(self) -> int:
        return len(self.ids)


@dataclass
class SamplerTrace:
    """The candidate set after every stage; the last one is what the token is drawn from."""

    stages: list[StageResult] = field(default_factory=list)

    @property
    def final(self) -> StageResult:
        return self.stages[-1]


def sampling_distribution(
    logits: np.ndarray, history: Sequence[int], params: SamplerParams, *, raw_probs: np.ndarray | None = None
) -> SamplerTrace:
    """`raw_probs` (softmax of `logits`) saves a full-vocabulary softmax when no penalty applies."""
    trace = SamplerTrace()
    penalized = apply_penalties(logits, history, params)
    all_ids = np.arange(len(penalized))
    unchanged = penalized is logits and raw_probs is not None
    trace.stages.append(
        StageResult("penalties", all_ids, raw_probs if unchanged and raw_probs is not None else softmax(penalized))
    )
    if params.greedy:
        best = int(np.argmax(penalized))
        trace.stages.append(StageResult("greedy", np.array([best]), np.array([1.0])))
        return trace

    ids, scores = all_ids, penalized
    if params.top_k > 0 and params.top_k < len(ids):
        keep = np.argpartition(-scores, params.top_k - 1)[: params.top_k]
        ids, scores = ids[keep], scores[keep]
    probs = softmax(scores)
    trace.stages.append(StageResult("top_k", ids, probs))

    if 0 < params.top_p < 1.0:
        ids, scores, probs = _nucleus(ids, scores, probs, params.top_p)
    trace.stages.append(StageResult("top_p", ids, probs))

    if params.min_p > 0:
        keep = probs >= params.min_p * probs.max()
        ids, scores = ids[keep], scores[keep]
        probs = softmax(scores)
    trace.stages.append(StageResult("min_p", ids, probs))

    probs = softmax(scores / params.temperature)
    trace.stages.append(StageResult("temperature", ids, probs))
    return trace


def _nucleus(
    ids: np.ndarray, scores: np.ndarray, probs: np.ndarray, top_p: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The smallest most-likely prefix whose mass reaches `top_p` (at least one token).

    Sorting the whole vocabulary every step is the slow part, so the top 1024
    are sorted first; nearly always they already hold the mass.
    """
    head = min(len(ids), 1024)
    for size in (head, len(ids)):
        part = np.argpartition(-probs, size - 1)[:size] if size < len(ids) else np.arange(len(ids))
        order = part[np.argsort(-probs[part], kind="stable")]
        cumulative = np.cumsum(probs[order])
        if cumulative[-1] >= top_p or size == len(ids):
            cut = min(int(np.searchsorted(cumulative, top_p, side="left")) + 1, len(order))
            chosen = order[:cut]
            return ids[chosen], scores[chosen], softmax(scores[chosen])
    raise AssertionError("unreachable")


def draw(rng: np.random.Generator, stage: StageResult) -> int:
    if len(stage.ids) == 1:
        return int(stage.ids[0])
    return int(rng.choice(stage.ids, p=stage.probs))
