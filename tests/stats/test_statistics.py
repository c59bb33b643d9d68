"""Sufficient statistics: values from sums, validation, addition across segments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeylens.errors import ValidationError
from journeylens.stats import CupedMean, Mean, Proportion, Ratio


def _mean_of(values: list[float]) -> Mean:
    return Mean(len(values), float(sum(values)), float(sum(v * v for v in values)))


def test_a_proportion_is_successes_over_n_with_bernoulli_variance():
    p = Proportion(n=200, successes=50)
    assert p.mean == 0.25
    assert p.variance == pytest.approx(0.25 * 0.75)


def test_a_mean_gives_the_sample_variance_of_the_values():
    values = [1.0, 2.0, 4.0, 7.0]
    m = _mean_of(values)
    assert m.mean == pytest.approx(3.5)
    assert m.variance == pytest.approx(np.var(values, ddof=1))  # = 7.0, by hand: 21 / 3


def test_a_ratio_variance_is_the_delta_method_variance_of_the_linearised_unit_values():
    # Per person: revenue x over orders y. The linearised value (x − R·y) ÷ ȳ has, over units,
    # the sample variance that the delta method gives for the ratio.
    x = np.array([10.0, 0.0, 35.0, 12.0, 50.0])
    y = np.array([1.0, 0.0, 2.0, 1.0, 3.0])
    r = Ratio(5, x.sum(), (x * x).sum(), y.sum(), (y * y).sum(), (x * y).sum())
    ratio = x.sum() / y.sum()
    assert r.mean == pytest.approx(107 / 7)
    linear = (x - ratio * y) / y.mean()
    assert r.variance == pytest.approx(np.var(linear, ddof=1))


def test_a_ratio_with_no_denominator_is_nan_not_an_error():
    r = Ratio(3, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert math.isnan(r.mean)
    assert math.isnan(r.variance)


def test_a_statistic_with_fewer_than_two_units_has_no_variance():
    assert math.isnan(Mean(1, 3.0, 9.0).variance)
    assert math.isnan(Proportion(0, 0).mean)


def test_a_cuped_adjustment_matches_a_regression_on_the_raw_values():
    y = np.array([3.0, 5.0, 4.0, 9.0, 7.0, 8.0])
    x = np.array([2.0, 4.0, 4.0, 8.0, 5.0, 7.0])
    c = CupedMean(6, y.sum(), (y * y).sum(), x.sum(), (x * x).sum(), (x * y).sum())
    theta = np.cov(x, y, ddof=1)[0, 1] / np.var(x, ddof=1)
    assert c.theta() == pytest.approx(theta)
    mean, variance = c.adjusted(theta, pooled_pre_mean=5.0)
    adjusted = y - theta * (x - 5.0)
    assert mean == pytest.approx(adjusted.mean())
    assert variance == pytest.approx(np.var(adjusted, ddof=1))
    assert variance < c.variance  # the covariate explains part of the spread


@given(
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=20),
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=20),
)
def test_statistics_of_two_segments_add_up_to_the_statistic_of_their_union(a, b):
    both = _mean_of(a) + _mean_of(b)
    whole = _mean_of(a + b)
    assert both.n == whole.n
    assert both.sum == pytest.approx(whole.sum)
    assert both.sum_squares == pytest.approx(whole.sum_squares)


def test_adding_different_kinds_of_statistic_is_refused():
    with pytest.raises(TypeError):
        Proportion(2, 1) + Mean(2, 1.0, 1.0)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Proportion(-1, 0), "whole number"),
        (lambda: Proportion(10, 11), "cannot exceed"),
        (lambda: Proportion(10.5, 1), "whole number"),  # type: ignore[arg-type]
        (lambda: Proportion(True, 0), "whole number"),  # type: ignore[arg-type]
        (lambda: Mean(3, 6.0, 5.0), "inconsistent"),  # 3·5 < 6²
        (lambda: Mean(3, math.nan, 5.0), "finite"),
        (lambda: Ratio(2, 2.0, 2.0, 2.0, 2.0, 9.0), "sum of products"),
        (lambda: Ratio(2, 2.0, 1.0, 2.0, 2.0, 2.0), "numerator"),
        (lambda: CupedMean(2, 3.0, 5.0, 1.0, 1.0, 9.0), "sum of products"),
    ],
)
def test_inconsistent_sums_are_refused_with_a_clear_error(build, message):
    with pytest.raises(ValidationError, match=message):
        build()


def test_equal_values_whose_variance_rounds_below_zero_are_accepted():
    value = 0.1
    m = Mean(3, 3 * value, 3 * value * value)
    assert m.variance == pytest.approx(0.0, abs=1e-12)
