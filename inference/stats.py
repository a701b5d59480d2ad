"""A chi-square goodness-of-fit test in pure Python (scipy is not a dependency).

The survival function of the chi-square distribution with k degrees of freedom
is the regularized upper incomplete gamma function Q(k/2, x/2). Q is computed
as in Numerical Recipes (3rd ed., 6.2): a series for x < a + 1, a continued
fraction (modified Lentz) otherwise; both converge to about 1e-14.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 10_000
# The usual rule for the chi-square approximation: every expected count at least 5.
MIN_EXPECTED = 5.0


def _check(a: float, x: float) -> None:
    if a <= 0:
        raise ValueError("a must be positive")
    if x < 0:
        raise ValueError("x must not be negative")


def gamma_p(a: float, x: float) -> float:
    """Regularized lower incomplete gamma P(a, x)."""
    _check(a, x)
    if x == 0:
        return 0.0
    return _series(a, x) if x < a + 1 else 1.0 - _continued_fraction(a, x)


def gamma_q(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x), accurate in the far tail too."""
    _check(a, x)
    if x == 0:
        return 1.0
    return 1.0 - _series(a, x) if x < a + 1 else _continued_fraction(a, x)


def _log_prefactor(a: float, x: float) -> float:
    return a * math.log(x) - x - math.lgamma(a)


def _series(a: float, x: float) -> float:
    term = total = 1.0 / a
    ap = a
    for _ in range(_MAX_ITERATIONS):
        ap += 1
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(_log_prefactor(a, x))


def _continued_fraction(a: float, x: float) -> float:
    b = x + 1 - a
    c = 1 / _TINY
    d = 1 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        if abs(d) < _TINY:
            d = _TINY
        c = b + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return math.exp(_log_prefactor(a, x)) * h


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X chi-square with `df` degrees of freedom."""
    if df < 1:
        raise ValueError("df must be at least 1")
    if x <= 0:
        return 1.0
    return gamma_q(df / 2, x / 2)


@dataclass(frozen=True)
class FitResult:
    p_value: float | None
    statistic: float | None
    df: int
    categories: int  # after pooling
    pooled: int  # how many original categories were pooled together
    words: str


def goodness_of_fit(observed: list[int], expected_p: list[float]) -> FitResult:
    """Chi-square test of `observed` counts against probabilities `expected_p` (which should sum to 1).

    Categories whose expected count is below 5 are pooled (smallest first) into
    one, until every category expects at least 5 or only one is left; the
    result says how many were pooled. With fewer than two categories there is
    nothing to test.
    """
    n = sum(observed)
    total_p = sum(expected_p)
    if n == 0 or total_p <= 0:
        return FitResult(None, None, 0, 0, 0, "No samples yet.")
    cells = sorted(
        ((count, p / total_p * n) for count, p in zip(observed, expected_p, strict=True)), key=lambda cell: cell[1]
    )
    pooled = 0
    while len(cells) > 1 and cells[0][1] < MIN_EXPECTED:
        # Merge the two smallest expectations, keep the list sorted.
        (o1, e1), (o2, e2) = cells[0], cells[1]
        cells = sorted([(o1 + o2, e1 + e2), *cells[2:]], key=lambda cell: cell[1])
        pooled += 1
    if len(cells) < 2:
        return FitResult(
            None,
            None,
            0,
            len(cells),
            pooled,
            f"{_samples(n)} {'is' if n == 1 else 'are'} too few to test yet: the test needs two groups of outcomes that each expect "
            "at least 5 samples.",
        )
    statistic = sum((o - e) ** 2 / e for o, e in cells)
    df = len(cells) - 1
    p = chi2_sf(statistic, df)
    pooling = " Rare outcomes were pooled together so that every group expects at least 5 samples." if pooled else ""
    if p >= 0.05:
        words = f"{_samples(n)} are consistent with the model's probabilities (p = {p:.2g})."
    elif p >= 0.001:
        words = (
            f"{_samples(n)} look somewhat unlikely under the model's probabilities (p = {p:.2g}); "
            "this happens by chance about once in 20 experiments."
        )
    else:
        words = f"{_samples(n)} are very unlikely under the model's probabilities (p = {p:.2g})."
    return FitResult(p, statistic, df, len(cells), pooled, words + pooling)


def _samples(n: int) -> str:
    return "1 sample" if n == 1 else f"{n} samples"
