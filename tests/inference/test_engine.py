"""The engine on a real quantized model (SmolLM2-135M Q4_1): also guards the portable llama.cpp build."""

from __future__ import annotations

import numpy as np
import pytest
from django.conf import settings

from inference.engine import Engine, load_model
from inference.sampling import SamplerParams, softmax
from tests.inference.model_fixtures import SMOLLM2_PATH

PROMPT = "<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def engine():
    llm, _ = load_model(str(SMOLLM2_PATH), n_ctx=settings.SANDBOX_N_CTX)
    return Engine(llm)


def _prompt(engine):
    return engine.tokenize(PROMPT, special=True)


def test_quantized_model_generates_text(engine):
    result = engine.generate(_prompt(engine), params=SamplerParams(temperature=0), seed=1, max_tokens=24, top_n_count=5)
    assert len(result.tokens) > 3 and result.output_text.strip()


def test_model_is_loaded_once_per_process():
    first, _ = load_model(str(SMOLLM2_PATH), n_ctx=settings.SANDBOX_N_CTX)
    second, seconds = load_model(str(SMOLLM2_PATH), n_ctx=settings.SANDBOX_N_CTX)
    assert first is second and seconds == 0.0


def test_top_model_is_an_independent_softmax_of_the_logits(engine):
    ids = _prompt(engine)
    result = engine.generate(ids, params=SamplerParams(temperature=0), seed=1, max_tokens=1, top_n_count=20)
    engine.llm.reset()
    engine.llm.eval(ids)
    logits = np.ctypeslib.as_array(engine.llm._ctx.get_logits_ith(-1), shape=(engine.n_vocab,)).astype(np.float64)
    probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    expected = np.argsort(-probs)[:20]
    token = result.tokens[0]
    assert [c["id"] for c in token.top_model] == expected.tolist()
    assert np.allclose([c["p"] for c in token.top_model], probs[expected], rtol=1e-4)
    assert token.p_model == pytest.approx(probs[token.id], rel=1e-4)


def test_greedy_is_deterministic_and_p_sampled_is_one(engine):
    params = SamplerParams(temperature=0)
    a = engine.generate(_prompt(engine), params=params, seed=1, max_tokens=16, top_n_count=3)
    b = engine.generate(_prompt(engine), params=params, seed=99, max_tokens=16, top_n_count=3)
    assert [t.id for t in a.tokens] == [t.id for t in b.tokens]
    assert all(t.p_sampled == 1.0 for t in a.tokens)
    assert all(t.id == t.top_model[0]["id"] for t in a.tokens)


def test_same_seed_reproduces_and_different_seeds_differ_at_high_temperature(engine):
    params = SamplerParams(temperature=1.5, top_k=0, top_p=1.0, min_p=0.0)
    runs = [engine.generate(_prompt(engine), params=params, seed=s, max_tokens=20, top_n_count=3) for s in (7, 7, 8)]
    assert [t.id for t in runs[0].tokens] == [t.id for t in runs[1].tokens]
    assert [t.id for t in runs[0].tokens] != [t.id for t in runs[2].tokens]


def test_top_k_limits_the_sampled_distribution(engine):
    result = engine.generate(
        _prompt(engine), params=SamplerParams(temperature=1.0, top_k=3, top_p=1.0), seed=3, max_tokens=5, top_n_count=10
    )
    for token in result.tokens:
        assert len(token.top_sampled) <= 3
        assert sum(c["p"] for c in token.top_sampled) == pytest.approx(1.0)
        assert token.id in [c["id"] for c in token.top_sampled]


def test_temperature_changes_the_sampled_distribution_not_the_model_one(engine):
    ids = _prompt(engine)
    cold = engine.generate(
        ids, params=SamplerParams(temperature=0.3, top_k=0, top_p=1.0), seed=1, max_tokens=1, top_n_count=5
    )
    hot = engine.generate(
        ids, params=SamplerParams(temperature=1.5, top_k=0, top_p=1.0), seed=1, max_tokens=1, top_n_count=5
    )
    assert cold.tokens[0].top_model == hot.tokens[0].top_model
    assert cold.tokens[0].top_sampled[0]["p"] > cold.tokens[0].top_model[0]["p"] > hot.tokens[0].top_sampled[0]["p"]


def test_forced_tokens_are_taken_and_still_scored(engine):
    ids = _prompt(engine)
    free = engine.generate(ids, params=SamplerParams(temperature=0), seed=1, max_tokens=3, top_n_count=5)
    alternative = free.tokens[0].top_model[1]["id"]
    forced = engine.generate(
        ids, params=SamplerParams(temperature=0), seed=1, max_tokens=3, top_n_count=5, forced=[alternative]
    )
    assert forced.tokens[0].id == alternative
    assert forced.tokens[0].p_model == pytest.approx(free.tokens[0].top_model[1]["p"], rel=1e-4)


def test_typed_control_token_stays_text_with_special_false(engine):
    as_text = engine.tokenize("<|im_end|>", special=False)
    as_control = engine.tokenize("<|im_end|>", special=True)
    assert len(as_control) == 1 and engine.is_special(as_control[0])
    assert len(as_text) > 1 and not any(engine.is_special(t) for t in as_text)


def test_independent_softmax_helper_agrees():
    x = np.array([1.0, 2.0, 3.0])
    assert np.allclose(softmax(x), np.exp(x) / np.exp(x).sum())
