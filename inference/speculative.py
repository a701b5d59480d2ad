"""Speculative decoding: a cheap draft proposes tokens, the target checks them in one batch.

Acceptance follows the standard rejection rule (Leviathan et al., Chen et al.):
accept a drafted token x with probability min(1, p(x) / q(x)); on rejection draw
from the residual max(0, p - q), renormalised. The output is then distributed
exactly as the target's own sampling, p. A deterministic draft (prompt lookup)
has q = one-hot, so x is accepted with probability p(x). At temperature 0 p is
one-hot too, and the output is the target's greedy output token for token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inference.sampling import SamplerParams, sampling_distribution

if TYPE_CHECKING:
    from inference.engine import Engine


def full_distribution(logits: np.ndarray, history: Sequence[int], params: SamplerParams) -> np.ndarray:
    """The sampler chain's final distribution, spread over the whole vocabulary."""
    final = sampling_distribution(logits, history, params).final
    probs = np.zeros(len(logits), dtype=np.float64)
    probs[final.ids] = final.probs
    return probs


def accept_or_resample(rng: np.random.Generator, p: np.ndarray, x: int, q: np.ndarray | None) -> tuple[bool, int]:
    """Verify drafted token `x` against target distribution `p` (draft distribution `q`, or None if deterministic)."""
    q_x = 1.0 if q is None else float(q[x])
    if q_x > 0 and rng.random() < min(1.0, float(p[x]) / q_x):
        return True, x
    residual = p.copy()
    if q is None:
        residual[x] = 0.0
    else:
        residual = np.maximum(p - q, 0.0)
    total = residual.sum()
    if total <= 0:  # p == q exactly: any rejection is measure-zero; fall back to p
        residual, total = p, p.sum()
    return False, int(rng.choice(len(p), p=residual / total))


def prompt_lookup(context: Sequence[int], k: int, max_ngram: int = 3) -> list[int]:
    """Draft by finding the latest earlier occurrence of the context's last n-gram and copying what followed."""
    for n in range(min(max_ngram, len(context) - 1), 0, -1):
        tail = list(context[-n:])
        for start in range(len(context) - n - 1, -1, -1):
            if list(context[start : start + n]) == tail:
                follow = list(context[start + n : start + n + k])
                if follow:
                    return follow
    return []


@dataclass
class SpeculativeStep:
    drafted: list[int]
    accepted: int  # how many drafted tokens the target kept
    emitted: list[int]  # tokens added this step (accepted ones plus the target's own)


@dataclass
class SpeculativeResult:
    tokens: list[int] = field(default_factory=list)
    steps: list[SpeculativeStep] = field(default_factory=list)
    seconds: float = 0.0

    def acceptance_by_position(self, k: int) -> list[float | None]:
        rates = []
        for position in range(k):
            drafted = [s for s in self.steps if len(s.drafted) > position]
            rates.append(sum(s.accepted > position for s in drafted) / len(drafted) if drafted else None)
        return rates

    @property
    def acceptance_rate(self) -> float:
        drafted = sum(len(s.drafted) for s in self.steps)
        return sum(s.accepted for s in self.steps) / drafted if drafted else 0.0


class _Target:
    """The target model's context, with batched verification and rollback."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.llm = engine, engine.llm

    def start(self, prompt: Sequence[int]) -> np.ndarray:
        self.llm.reset()
        self.llm.eval(list(prompt))
        return self.engine._last_logits()

    def verify(self, drafted: Sequence[int]) -> list[np.ndarray]:
        """Evaluate the drafted tokens in one batch; logits after each of them."""
        n_past = self.llm.n_tokens
        self.llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        self.llm._batch.set_batch(batch=list(drafted), n_past=n_past, logits_all=True)
        self.llm._ctx.decode(self.llm._batch)
        self.llm.input_ids[n_past : n_past + len(drafted)] = drafted
        self.llm.n_tokens += len(drafted)
        n_vocab = self.engine.n_vocab
        return [
            np.ctypeslib.as_array(self.llm._ctx.get_logits_ith(i), shape=(n_vocab,)).copy() for i in range(len(drafted))
        ]

    def rollback(self, n_tokens: int) -> None:
        self.llm.n_tokens = n_tokens  # the next eval drops the cache beyond this point

    def advance(self, token: int) -> np.ndarray:
        self.llm.eval([token])
        return self.engine._last_logits()


class ModelDraft:
    """A smaller model sharing the target's tokenizer proposes `k` tokens with its own distribution."""

    def __init__(self, engine: Any, params: SamplerParams) -> None:
        self.engine, self.params = engine, params
        self.context: list[int] = []

    def propose(self, context: Sequence[int], k: int, rng: np.random.Generator) -> tuple[list[int], list[np.ndarray]]:
        llm = self.engine.llm
        common = 0
        while common < min(len(self.context), len(context)) and self.context[common] == context[common]:
            common += 1
        if common == len(context):  # logits for the last position are needed again
            common -= 1
        llm.n_tokens = common
        llm.eval(list(context[common:]))
        self.context = list(context)
        tokens, dists = [], []
        history = list(context)
        for _ in range(k):
            q = full_distribution(self.engine._last_logits(), history, self.params)
            token = int(np.argmax(q)) if self.params.greedy else int(rng.choice(len(q), p=q))
            tokens.append(token)
            dists.append(q)
            history.append(token)
            if self.engine.is_end_of_generation(token):
                break
            llm.eval([token])
            self.context.append(token)
        return tokens, dists


def speculative_generate(
    target: Any,
    prompt: Sequence[int],
    *,
    params: SamplerParams,
    seed: int,
    max_tokens: int,
    k: int,
    draft: Callable[[list[int], int, np.random.Generator], tuple[list[int], list[np.ndarray] | None]],
) -> SpeculativeResult:
    """Generate with `draft` proposing up to `k` tokens per step; see the module docstring."""
    rng = np.random.default_rng(seed)
    result = SpeculativeResult()
    state = _Target(target)
    started = time.perf_counter()
    logits = state.start(prompt)
    context = list(prompt)
    while len(result.tokens) < max_tokens:
        want = min(k, max_tokens - len(result.tokens) - 1)
        drafted, q_dists = draft(context, want, rng) if want > 0 else ([], None)
        verified = state.verify(drafted) if drafted else []
        emitted: list[int] = []
        base = len(context)
        accepted = 0
        current = logits
        finished = False
        for i, token in enumerate(drafted):
            p = full_distribution(current, context + emitted, params)
            ok, chosen = accept_or_resample(rng, p, token, q_dists[i] if q_dists else None)
            emitted.append(chosen)
            if not ok:
                break
            accepted += 1
            current = verified[i]
            if target.is_end_of_generation(chosen):
                finished = True
                break
        else:
            # Every drafted token kept: the target's distribution after them gives one more.
            p = full_distribution(current, context + emitted, params)
            chosen = int(np.argmax(p)) if params.greedy else int(rng.choice(len(p), p=p))
            emitted.append(chosen)
        state.rollback(base + accepted)
        result.steps.append(SpeculativeStep(drafted=list(drafted), accepted=accepted, emitted=list(emitted)))
        for token in emitted:
            result.tokens.append(token)
            context.append(token)
            if target.is_end_of_generation(token) or len(result.tokens) >= max_tokens:
                finished = True
                break
        if finished:
            break
        # The cache holds the accepted drafts; the step's last token (the target's own) is added now.
        logits = state.advance(emitted[-1])
    result.seconds = time.perf_counter() - started
    return result
