from __future__ import annotations

import numpy as np
import pytest
from django.conf import settings

from inference.engine import Engine, load_model
from inference.sampling import SamplerParams
from inference.speculative import ModelDraft, accept_or_resample, prompt_lookup, speculative_generate
from tests.inference.model_fixtures import SMOLLM2_PATH

P = np.array([0.35, 0.25, 0.2, 0.1, 0.06, 0.04])
Q = np.array([0.1, 0.4, 0.05, 0.3, 0.1, 0.05])
N = 60_000


def _output_distribution(draw_x, q):
    rng = np.random.default_rng(1)
    counts = np.zeros(len(P))
    for _ in range(N):
        _, token = accept_or_resample(rng, P, draw_x(rng), q)
        counts[token] += 1
    return counts / N


def test_rejection_rule_with_a_model_draft_reproduces_the_target_distribution():
    observed = _output_distribution(lambda rng: int(rng.choice(len(Q), p=Q)), Q)
    # 3.5 standard errors per token on 60k draws
    assert np.all(np.abs(observed - P) < 3.5 * np.sqrt(P * (1 - P) / N)), observed


def test_rejection_rule_with_a_deterministic_draft_reproduces_the_target_distribution():
    observed = _output_distribution(lambda rng: 3, None)
    assert np.all(np.abs(observed - P) < 3.5 * np.sqrt(P * (1 - P) / N)), observed


def test_prompt_lookup_copies_what_followed_the_last_ngram():
    assert prompt_lookup([1, 2, 3, 9, 8, 1, 2, 3], k=3) == [9, 8, 1]
    assert prompt_lookup([5, 6, 7], k=3) == []


@pytest.fixture(scope="module")
def target():
    llm, _ = load_model(str(SMOLLM2_PATH), n_ctx=settings.SANDBOX_N_CTX)
    return Engine(llm)


@pytest.fixture(scope="module")
def draft_engine():
    # A second instance (another context size) so draft and target keep separate caches.
    llm, _ = load_model(str(SMOLLM2_PATH), n_ctx=2048)
    return Engine(llm)


REPETITIVE = "a b c d e f g a b c d e f g a b c d e f g a b"


def test_greedy_prompt_lookup_output_is_the_targets_greedy_output(target):
    prompt = target.tokenize(REPETITIVE, special=False)
    plain = target.generate(prompt, params=SamplerParams(temperature=0), seed=1, max_tokens=24, top_n_count=1)

    spec = speculative_generate(target, prompt, params=SamplerParams(temperature=0), seed=1, max_tokens=24, k=4,
                                draft=lambda ctx, k, rng: (prompt_lookup(ctx, k), None))  # fmt: skip

    assert spec.tokens == [t.id for t in plain.tokens]
    assert spec.acceptance_rate > 0.5  # the text repeats, so copying it is mostly right


def test_greedy_model_draft_output_is_the_targets_greedy_output(target, draft_engine):
    prompt = target.tokenize("The three primary colours are", special=False)
    plain = target.generate(prompt, params=SamplerParams(temperature=0), seed=1, max_tokens=20, top_n_count=1)
    drafter = ModelDraft(draft_engine, SamplerParams(temperature=0))

    spec = speculative_generate(
        target, prompt, params=SamplerParams(temperature=0), seed=1, max_tokens=20, k=4, draft=drafter.propose
    )

    assert spec.tokens == [t.id for t in plain.tokens]
    assert spec.acceptance_rate > 0.8  # the same weights draft: nearly everything is accepted
    assert spec.acceptance_by_position(4)[0] is not None


def test_sampled_speculative_run_is_reproducible_for_a_seed(target, draft_engine):
    prompt = target.tokenize("Once upon a time", special=False)
    params = SamplerParams(temperature=1.0, top_k=40, top_p=0.95)
    runs = [
        speculative_generate(
            target, prompt, params=params, seed=9, max_tokens=16, k=3, draft=ModelDraft(draft_engine, params).propose
        ).tokens
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0]) == 16
