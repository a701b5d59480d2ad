"""The pure-Python chi-square survival function against closed forms and textbook critical values."""

from __future__ import annotations

import math

import pytest

from inference.stats import chi2_sf, gamma_p, gamma_q, goodness_of_fit


def _even_df_sf(x: float, df: int) -> float:
    # For df = 2k: exp(-x/2) * sum_{i<k} (x/2)^i / i!
    half = x / 2
    return math.exp(-half) * sum(half**i / math.factorial(i) for i in range(df // 2))


@pytest.mark.parametrize("x", [0.01, 0.5, 1.0, 2.5, 7.0, 15.0, 40.0, 120.0])
@pytest.mark.parametrize("df", [2, 4, 6, 10, 20])
def test_even_degrees_of_freedom_match_the_closed_form(x, df):
    assert chi2_sf(x, df) == pytest.approx(_even_df_sf(x, df), rel=1e-10, abs=1e-300)


@pytest.mark.parametrize("x", [0.001, 0.3, 1.0, 3.84, 9.0, 30.0])
def test_one_degree_of_freedom_matches_erfc(x):
    assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-10)


@pytest.mark.parametrize(
    ("x", "df", "p"),
    [
        # Critical values from the standard chi-square table.
        (3.841458820694124, 1, 0.05),
        (6.6348966010212145, 1, 0.01),
        (5.991464547107979, 2, 0.05),
        (7.814727903251178, 3, 0.05),
        (11.070497693516351, 5, 0.05),
        (18.307038053275146, 10, 0.05),
        (0.10258658877510107, 2, 0.95),
        (124.34211340400407, 100, 0.05),
        (10.0, 5, 0.07523524614651217),  # scipy.stats.chi2.sf(10, 5)
    ],
)
def test_critical_values(x, df, p):
    assert chi2_sf(x, df) == pytest.approx(p, rel=1e-6)


def test_incomplete_gamma_identities():
    for a in (0.5, 1.0, 3.0, 12.5):
        for x in (0.1, 1.0, a, a + 1, 10.0, 50.0):
            assert gamma_p(a, x) + gamma_q(a, x) == pytest.approx(1.0, abs=1e-12)
    assert gamma_p(1.0, 2.0) == pytest.approx(1 - math.exp(-2.0), rel=1e-12)
    assert chi2_sf(0, 3) == 1.0
    assert chi2_sf(1e4, 3) < 1e-300 or chi2_sf(1e4, 3) == 0.0


def test_goodness_of_fit_consistent_and_inconsistent():
    fair = goodness_of_fit([26, 24, 25, 25], [0.25] * 4)
    assert fair.p_value > 0.9 and "consistent" in fair.words and fair.df == 3
    skewed = goodness_of_fit([100, 0, 0, 0], [0.25] * 4)
    assert skewed.p_value < 1e-6 and "very unlikely" in skewed.words


def test_rare_categories_are_pooled_and_said_so():
    # 20 samples: the three rare tokens expect 0.6, 0.4, 0.2 and are pooled with each other and more.
    result = goodness_of_fit([10, 8, 1, 1, 0], [0.5, 0.43, 0.03, 0.02, 0.02])
    assert result.pooled >= 3
    assert result.categories == 2 and result.df == 1
    assert "pooled" in result.words
    # By hand: groups (10 vs 10.0) and (10 vs 10.0) -> statistic 0.
    assert result.statistic == pytest.approx(0.0, abs=1e-9)


def test_nothing_to_test():
    assert goodness_of_fit([], []).p_value is None
    one = goodness_of_fit([3], [1.0])
    assert one.p_value is None and "too few to test" in one.words
