"""95 % confidence intervals for the evaluation's counts (how much a figure could move).

- :func:`wilson`: a proportion such as recall (``hits`` of ``refs``), Wilson score interval.
- :func:`poisson_rate`: a rate such as false alarms per hour, the exact (Garwood) interval of
  a Poisson count over its exposure.

No scipy: the Poisson bounds are found by bisection on the Poisson distribution function.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
ALPHA = 0.05


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of ``k`` successes in ``n`` trials (``None`` when ``n`` is 0)."""
    if n <= 0:
        return None
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _poisson_cdf(k: int, lam: float) -> float:
    """P(X <= k) for X ~ Poisson(lam)."""
    if lam <= 0:
        return 1.0
    term = math.exp(-lam)  # the i = 0 term
    if term == 0.0:  # very large lam: sum in logs
        log_terms = [i * math.log(lam) - lam - math.lgamma(i + 1) for i in range(k + 1)]
        top = max(log_terms)
        return math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    total = term
    for i in range(1, k + 1):
        term *= lam / i
        total += term
    return min(1.0, total)


def _solve(f: Callable[[float], float], target: float, hi: float) -> float:
    """The ``lam`` in [0, hi] where the decreasing ``f(lam)`` equals ``target`` (bisection)."""
    lo = 0.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if f(mid) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def poisson_count(k: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Exact two-sided interval of a Poisson mean after observing ``k`` events."""
    hi_bound = k + 10.0 * math.sqrt(k + 1) + 10.0
    upper = _solve(lambda lam: _poisson_cdf(k, lam), alpha / 2, hi_bound)
    if k == 0:
        return 0.0, upper
    lower = _solve(lambda lam: _poisson_cdf(k - 1, lam), 1 - alpha / 2, hi_bound)
    return lower, upper


def poisson_rate(k: int, exposure: float, alpha: float = ALPHA) -> tuple[float, float] | None:
    """Interval of a rate: ``k`` events over ``exposure`` (e.g. hours); ``None`` if no exposure."""
    if exposure <= 0:
        return None
    lo, hi = poisson_count(k, alpha)
    return lo / exposure, hi / exposure
