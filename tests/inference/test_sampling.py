from __future__ import annotations

import numpy as np
import pytest

from inference.sampling import SamplerParams, apply_penalties, draw, sampling_distribution, softmax, top_n

LOGITS = np.array([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])


def _final(params: SamplerParams, logits=LOGITS, history=()):
    trace = sampling_distribution(logits, list(history), params)
    return dict(zip(trace.final.ids.tolist(), trace.final.probs.tolist(), strict=True))


def test_softmax_matches_the_definition():
    expected = np.exp(LOGITS) / np.exp(LOGITS).sum()
    assert np.allclose(softmax(LOGITS), expected)


def test_temperature_one_with_nothing_removed_is_the_model_distribution():
    final = _final(SamplerParams(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0))
    assert np.allclose([final[i] for i in range(6)], softmax(LOGITS))


def test_temperature_divides_the_logits():
    final = _final(SamplerParams(temperature=0.5, top_k=0, top_p=1.0, min_p=0.0))
    assert np.allclose([final[i] for i in range(6)], softmax(LOGITS / 0.5))


def test_lower_temperature_sharpens_higher_flattens():
    low = _final(SamplerParams(temperature=0.3, top_k=0, top_p=1.0))
    high = _final(SamplerParams(temperature=1.5, top_k=0, top_p=1.0))
    assert low[0] > softmax(LOGITS)[0] > high[0]


def test_top_k_keeps_the_k_most_likely():
    assert set(_final(SamplerParams(temperature=1.0, top_k=2, top_p=1.0))) == {0, 1}


def test_top_p_keeps_the_smallest_prefix_reaching_p():
    probs = softmax(LOGITS)
    p = float(probs[0] + probs[1]) - 1e-9  # two tokens are needed to reach p
    assert set(_final(SamplerParams(temperature=1.0, top_k=0, top_p=p))) == {0, 1}
    assert set(_final(SamplerParams(temperature=1.0, top_k=0, top_p=float(probs[0]) / 2))) == {0}


def test_min_p_drops_tokens_below_a_fraction_of_the_best():
    probs = softmax(LOGITS)
    kept = _final(SamplerParams(temperature=1.0, top_k=0, top_p=1.0, min_p=0.2))
    assert set(kept) == {i for i in range(6) if probs[i] >= 0.2 * probs[0]}


def test_greedy_is_the_argmax_with_probability_one():
    assert _final(SamplerParams(temperature=0.0)) == {0: 1.0}


def test_repeat_penalty_divides_positive_and_multiplies_negative_logits():
    out = apply_penalties(LOGITS, [0, 4], SamplerParams(repeat_penalty=2.0))
    assert out[0] == pytest.approx(1.0) and out[4] == pytest.approx(-2.0) and out[1] == pytest.approx(1.0)


def test_frequency_and_presence_penalties_subtract():
    out = apply_penalties(LOGITS, [1, 1, 1], SamplerParams(frequency_penalty=0.5, presence_penalty=0.25))
    assert out[1] == pytest.approx(1.0 - 1.5 - 0.25)


def test_penalties_can_change_the_greedy_choice():
    assert _final(SamplerParams(temperature=0.0, repeat_penalty=2.5), history=[0, 0]) == {1: 1.0}


def test_stages_report_each_candidate_set():
    trace = sampling_distribution(LOGITS, [], SamplerParams(temperature=1.0, top_k=4, top_p=0.9, min_p=0.1))
    sizes = [(s.name, s.size) for s in trace.stages]
    assert [name for name, _ in sizes] == ["penalties", "top_k", "top_p", "min_p", "temperature"]
    assert sizes[0][1] == 6 and sizes[1][1] == 4
    assert all(a >= b for (_, a), (_, b) in zip(sizes, sizes[1:], strict=False))


def test_draw_is_reproducible_for_a_seed_and_follows_the_distribution():
    stage = sampling_distribution(LOGITS, [], SamplerParams(temperature=1.0, top_k=0, top_p=1.0)).final
    a = [draw(np.random.default_rng(5), stage) for _ in range(3)]
    b = [draw(np.random.default_rng(5), stage) for _ in range(3)]
    assert a == b
    rng = np.random.default_rng(0)
    counts = np.bincount([draw(rng, stage) for _ in range(20000)], minlength=6) / 20000
    assert np.allclose(counts, softmax(LOGITS), atol=0.015)


def test_top_n_sorted_by_probability():
    probs = softmax(LOGITS)
    assert [i for i, _ in top_n(probs, np.arange(6), 3)] == [0, 1, 2]
