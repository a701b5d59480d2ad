"""Sampling for a whole batch: the next token of every sequence from its row of logits.

Pure functions of the rows and each job's sampler state (no llama.cpp, no engine state), so
`inference.batching.BatchEngine` calls `sample_rows` once per step and tests can check them alone.
Every result for a row depends on that row alone: a run samples identically alone and in a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from inference.engine import GeneratedToken
from inference.sampling import SamplerParams, apply_penalties, entropy_bits, softmax, top_n

if TYPE_CHECKING:
    from inference.batching import Job


def sample_rows(rows: np.ndarray, jobs: Sequence[Job]) -> list[GeneratedToken]:
    """The next token of every job from its row of logits.

    The full-vocabulary max and exp are one numpy call for the batch; the top
    candidates of a row come from `_canonical_top` (a few passes over the row,
    no sort or partition of the whole vocabulary); the rest is per row on a few
    dozen candidates. Every result for a row depends on that row alone, in the
    same operations whatever the batch size: a run samples identically alone and
    in a batch.

    Candidates are kept in a canonical order (logit descending, then id), so
    which token a seeded draw picks never depends on how numpy partitioned.
    """
    count, n_vocab = rows.shape
    maxima = rows.max(axis=1)
    exps = np.exp(rows - maxima[:, None])  # float32, for p_model and the top-N of the model
    out = []
    for r, job in enumerate(jobs):
        row, e = rows[r], exps[r]
        total = float(e.sum())
        wanted = _candidates_needed(job, n_vocab)
        ordered = _canonical_top(row, wanted)
        ids = ordered[:wanted]
        top_model = [(int(i), float(e[i]) / total) for i in ids[: job.top_n]]
        step = len(job.generation.tokens)
        final_ids, final_probs = _chain(row, ids, job)
        drawn = int(final_ids[0]) if len(final_ids) == 1 else int(job.rng.choice(final_ids, p=final_probs))
        token_id = int(job.forced[step]) if step < len(job.forced) else drawn
        position = np.flatnonzero(final_ids == token_id)
        out.append(
            GeneratedToken(
                id=token_id,
                text="",
                p_model=float(e[token_id]) / total,
                p_sampled=float(final_probs[position[0]]) if len(position) else 0.0,
                top_model=top_model,  # type: ignore[arg-type]  # (id, p) pairs here; _sample names them with their text
                top_sampled=top_n(final_probs, final_ids, job.top_n),  # type: ignore[arg-type]  # as above
                entropy_bits=entropy_bits(final_probs),
            )
        )
    return out


def _penalized(job: Job) -> bool:
    p = job.params
    return bool(job.history) and not (
        p.repeat_penalty == 1.0 and p.presence_penalty == 0.0 and p.frequency_penalty == 0.0
    )


def _candidates_needed(job: Job, n_vocab: int) -> int:
    k = max(job.top_n, 1)
    if not _penalized(job) and not job.params.greedy and 0 < job.params.top_k < n_vocab:
        k = max(k, job.params.top_k)
    return min(k, n_vocab)


def _canonical_top(scores: np.ndarray, k: int) -> np.ndarray:
    """The ids of the `k` highest scores, by score descending, then id: the same ids in
    the same order however they are found, so a seeded draw never depends on it.

    Partitioning a 151,936-token row costs about 0.5-1 ms; this about 0.1 ms: only
    the scores at or above `_top_threshold` (a few times k) are sorted.
    """
    n = len(scores)
    if k >= n:
        return np.lexsort((np.arange(n), -scores))
    ids = np.flatnonzero(scores >= _top_threshold(scores, k))
    if len(ids) < k:  # only with NaN scores, which compare false: the plain way
        ids = np.arange(n)
    return ids[np.lexsort((ids, -scores[ids]))][:k]


def _top_threshold(scores: np.ndarray, k: int) -> float:
    """A value at most the k-th highest score, and close to it (0 < k < len(scores)).

    The row is cut into m >= k strided groups and this is the k-th largest group
    maximum. Those maxima are k scores at distinct positions, so it is at most
    the k-th largest score; with m >= 16k groups the other groups' maxima are
    small, so few scores reach it.
    """
    n = len(scores)
    width = max(1, min(64, n // (16 * k)))
    groups = n // width
    maxima = scores[: width * groups].reshape(width, groups).max(axis=0)
    return float(maxima[np.argpartition(maxima, groups - k)[groups - k]])


def _chain(row: np.ndarray, top_ids: np.ndarray, job: Job) -> tuple[np.ndarray, np.ndarray]:
    """llama.cpp's default chain (penalties, top-k, top-p, min-p, temperature) on one row:
    the candidate ids, in canonical order, and the probabilities the token is drawn with."""
    params = job.params
    n_vocab = len(row)
    if _penalized(job):
        scores = apply_penalties(row.astype(np.float64), job.history, params)
        if params.greedy:
            return _canonical_top(scores, 1), np.array([1.0])
        ids = _canonical_top(scores, params.top_k) if 0 < params.top_k < n_vocab else None
    else:
        scores = row
        if params.greedy:
            return top_ids[:1], np.array([1.0])
        ids = top_ids[: params.top_k] if 0 < params.top_k < n_vocab else None
    if ids is None:
        # No top-k: the whole vocabulary. Sorting it is the slow part, so the nucleus
        # is looked for in the top 1024 first; nearly always they hold the mass.
        full = scores.astype(np.float64)
        if not 0 < params.top_p < 1.0:
            return _rest(np.arange(n_vocab), full, params, nucleus_done=True)
        probs = softmax(full)
        for size in sorted({min(size, n_vocab) for size in (1024, 16384, n_vocab)}):
            ids = _canonical_top(full, size)
            cumulative = np.cumsum(probs[ids])
            if cumulative[-1] >= params.top_p or size == n_vocab:
                break
        assert ids is not None  # the loop ran at least once (n_vocab >= 1)
        cut = min(int(np.searchsorted(cumulative, params.top_p, side="left")) + 1, len(ids))
        ids = ids[:cut]
        return _rest(ids, full[ids], params, nucleus_done=True)
    return _rest(ids, scores[ids].astype(np.float64), params, nucleus_done=False)


def _rest(
    ids: np.ndarray, scores: np.ndarray, params: SamplerParams, *, nucleus_done: bool
) -> tuple[np.ndarray, np.ndarray]:
    probs = softmax(scores)
    if 0 < params.top_p < 1.0 and not nucleus_done:
        # ids are in canonical order (most likely first) whenever top_p applies.
        cumulative = np.cumsum(probs)
        cut = min(int(np.searchsorted(cumulative, params.top_p, side="left")) + 1, len(ids))
        ids, scores = ids[:cut], scores[:cut]
        probs = softmax(scores)
    if params.min_p > 0:
        keep = probs >= params.min_p * probs.max()
        ids, scores = ids[keep], scores[keep]
    probs = softmax(scores / params.temperature)
    return ids, probs
