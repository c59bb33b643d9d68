"""Gamma-Gamma: the published CDNOW spend fit and agreement with lifetimes."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.errors import ValidationError
from journeylens.predict.gamma_gamma import GammaGamma

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from lifetimes import GammaGammaFitter
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value


@pytest.fixture(scope="module")
def repeat() -> pd.DataFrame:
    summary = load_cdnow_summary_data_with_monetary_value()
    return summary[summary.frequency > 0]


@pytest.fixture(scope="module")
def fitted(repeat: pd.DataFrame) -> GammaGamma:
    return GammaGamma().fit(repeat.frequency, repeat.monetary_value)


def test_the_cdnow_fit_reproduces_fader_hardie_and_lee(fitted):
    published = {"p": 6.25, "q": 3.74, "v": 15.44}
    for name, value in published.items():
        assert f"{fitted.params_[name]:.3g}" == f"{value:.3g}", name
    assert fitted.n_customers_ == 946


def test_expected_spend_agrees_with_lifetimes_at_the_same_parameters(fitted, repeat):
    oracle = GammaGammaFitter()
    oracle.params_ = pd.Series(fitted.params_)
    theirs = oracle.conditional_expected_average_profit(repeat.frequency, repeat.monetary_value)
    ours = fitted.conditional_expected_average_profit(repeat.frequency, repeat.monetary_value)
    np.testing.assert_allclose(ours, theirs.to_numpy(), atol=1e-4)


def test_planted_spend_parameters_are_recovered():
    rng = np.random.default_rng(7)
    p, q, v = 4.0, 5.0, 30.0
    x = rng.integers(1, 12, 20_000)
    nu = rng.gamma(q, 1 / v, x.size)
    mean_spend = rng.gamma(p * x, 1 / (nu * x))  # the mean of x Gamma(p, nu) spends
    model = GammaGamma().fit(x, mean_spend)
    assert model.params_["p"] == pytest.approx(p, rel=0.15)
    assert model.params_["q"] == pytest.approx(q, rel=0.15)
    assert model.params_["v"] == pytest.approx(v, rel=0.2)


@settings(max_examples=60, deadline=None)
@given(x=st.integers(0, 200), m=st.floats(0.01, 10_000))
def test_expected_spend_lies_between_the_customer_and_the_population_mean(fitted, x, m):
    expected = fitted.conditional_expected_average_profit([x], [m])[0]
    population = fitted.population_mean()
    low, high = sorted((m, population)) if x else (population, population)
    assert low - 1e-9 <= expected <= high + 1e-9


@pytest.mark.parametrize(
    ("frequency", "monetary_value", "message"),
    [
        ([1, 0], [5.0, 3.0], "repeat purchases only"),
        ([1, 2], [5.0, 0.0], "positive average spend"),
        ([1, 2], [5.0, -1.0], "negative"),
        ([1, 2], [5.0], "different lengths"),
        ([1, 2], [5.0, np.nan], "missing or infinite"),
        ([1.2, 2], [5.0, 3.0], "whole number"),
        ([], [], "at least one customer"),
    ],
)
def test_bad_spend_summaries_are_refused_with_a_clear_error(frequency, monetary_value, message):
    with pytest.raises(ValidationError, match=message):
        GammaGamma().fit(frequency, monetary_value)


def test_predicting_before_fitting_is_refused():
    with pytest.raises(ValidationError, match="not fitted"):
        GammaGamma().conditional_expected_average_profit([1], [5.0])
