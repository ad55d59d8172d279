"""The evaluation's 95 % intervals against published values (Garwood 1936; Wilson 1927)."""

from __future__ import annotations

import pytest

from custom_components.acoustic_guard.engine.stats import (
    poisson_count,
    poisson_rate,
    wilson,
)


@pytest.mark.parametrize(
    ("k", "lower", "upper"),
    [
        (0, 0.0, 3.6889),  # the "rule of three": no event seen, the mean may still be 3.7
        (1, 0.0253, 5.5716),
        (2, 0.2422, 7.2247),
        (10, 4.7954, 18.3904),
        (100, 81.3640, 121.6268),
    ],
)
def test_poisson_count_matches_the_chi_square_table(k: int, lower: float, upper: float) -> None:
    lo, hi = poisson_count(k)
    assert lo == pytest.approx(lower, abs=1e-4)
    assert hi == pytest.approx(upper, abs=1e-4)


def test_poisson_rate_scales_by_exposure_and_rejects_none() -> None:
    lo, hi = poisson_rate(0, 5.55)  # no false alarm in 5.55 h of negatives
    assert lo == 0.0
    assert hi == pytest.approx(3.6889 / 5.55, rel=1e-4)  # still up to 0.66 an hour (16 a day)
    assert poisson_rate(3, 0.0) is None


def test_poisson_interval_holds_its_count_and_grows_with_it() -> None:
    previous = (-1.0, -1.0)
    for k in range(60):
        lo, hi = poisson_count(k)
        assert lo < k < hi or (k == 0 and lo == 0.0)
        assert lo > previous[0] and hi > previous[1]
        previous = (lo, hi)


def test_wilson() -> None:
    lo, hi = wilson(81, 100)
    assert (lo, hi) == (pytest.approx(0.7222, abs=1e-4), pytest.approx(0.8749, abs=1e-4))
    # even 100 of 100 cannot show a recall of 0.98 at 95 %
    assert wilson(100, 100) == (pytest.approx(0.9630, abs=1e-4), 1.0)
    assert wilson(0, 10)[0] == 0.0  # type: ignore[index]
    assert wilson(0, 0) is None
