"""BG/NBD: the published CDNOW fit, agreement with lifetimes, recovery of planted parameters."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.errors import ValidationError
from journeylens.predict.bgnbd import BetaGeo, _if_alive_by_quadrature

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return load_cdnow_summary_data_with_monetary_value()


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> BetaGeo:
    return BetaGeo().fit(cdnow.frequency, cdnow.recency, cdnow["T"])


def bgnbd_customers(n: int, r: float, alpha: float, a: float, b: float, seed: int):
    """Customers drawn from the BG/NBD story itself, each observed for 20 to 60 time units."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    age = rng.uniform(20, 60, n)
    made = rng.poisson(rate * age)  # purchases had the customer never left
    lasts = rng.geometric(dropout)  # the repeat purchase after which they leave
    x = np.minimum(made, lasts)
    # The x-th of `made` uniform arrival times is the x-th order statistic: Beta(x, made - x + 1).
    t_x = np.where(x > 0, age * rng.beta(np.maximum(x, 1), made - x + 1), 0.0)
    return x, t_x, age


def test_the_cdnow_fit_reproduces_fader_hardie_and_lee(fitted):
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert f"{fitted.params_[name]:.3g}" == f"{value:.3g}", name
    assert fitted.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert fitted.n_customers_ == 2357


def test_predictions_agree_with_lifetimes_at_the_same_parameters(fitted, cdnow):
    oracle = BetaGeoFitter()
    oracle.params_ = pd.Series(fitted.params_)
    x, t_x, big_t = cdnow.frequency.to_numpy(), cdnow.recency.to_numpy(), cdnow["T"].to_numpy()
    ours = fitted.conditional_probability_alive(x, t_x, big_t)
    np.testing.assert_allclose(ours, oracle.conditional_probability_alive(x, t_x, big_t), atol=1e-4)
    for t in (1, 10, 39, 100):
        theirs = oracle.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, big_t)
        np.testing.assert_allclose(
            fitted.conditional_expected_purchases(t, x, t_x, big_t), theirs, atol=1e-4
        )
        assert fitted.expected_purchases(t) == pytest.approx(
            oracle.expected_number_of_purchases_up_to_time(t), abs=1e-4
        )


def test_a_sample_customer_matches_the_published_example(fitted):
    # Fader, Hardie and Lee (2005), section 5: x = 2, t_x = 30.43, T = 38.86 expects 1.226
    # purchases in the next 39 weeks.
    expected = fitted.conditional_expected_purchases(39, [2], [30.43], [38.86])[0]
    assert expected == pytest.approx(1.226, abs=5e-4)


def test_planted_parameters_are_recovered_from_simulated_customers():
    planted = {"r": 0.8, "alpha": 6.0, "a": 1.2, "b": 3.5}
    model = BetaGeo().fit(*bgnbd_customers(20_000, **planted, seed=3))
    for name, value in planted.items():
        assert model.params_[name] == pytest.approx(value, rel=0.25), name


def test_the_quadrature_fallback_agrees_with_the_closed_form(fitted, cdnow):
    x, t_x, big_t = cdnow.frequency.to_numpy(float), cdnow.recency.to_numpy(), cdnow["T"].to_numpy()
    closed = fitted.conditional_expected_purchases(39, x, t_x, big_t)
    alive = fitted.conditional_probability_alive(x, t_x, big_t)
    numeric = _if_alive_by_quadrature(39.0, x, big_t, *fitted.params_.values()) * alive
    np.testing.assert_allclose(numeric, closed, atol=1e-4)


def test_a_degenerate_fit_on_three_customers_still_predicts_finite_counts():
    model = BetaGeo().fit([1, 1, 0], [19, 3, 0], [30, 29, 21])
    expected = model.conditional_expected_purchases(90, [1, 1, 0], [19, 3, 0], [30, 29, 21])
    assert np.all(np.isfinite(expected))
    assert np.all(expected >= 0)


@settings(max_examples=60, deadline=None)
@given(
    x=st.integers(0, 60),
    share=st.floats(0.01, 1.0),
    big_t=st.floats(0.5, 200),
    t=st.floats(0, 300),
    more=st.floats(0.1, 100),
)
def test_expected_purchases_start_at_zero_and_grow_with_the_horizon(
    fitted, x, share, big_t, t, more
):
    t_x = share * big_t if x else 0.0
    at = [
        fitted.conditional_expected_purchases(h, [x], [t_x], [big_t])[0] for h in (0, t, t + more)
    ]
    assert at[0] == 0
    assert 0 <= at[1] <= at[2] + 1e-12
    alive = fitted.conditional_probability_alive([x], [t_x], [big_t])[0]
    assert 0 < alive <= 1
    if x == 0:
        assert alive == 1


def test_the_estimator_follows_the_scikit_learn_contract():
    model = BetaGeo(max_iter=50)
    assert model.get_params() == {"max_iter": 50}
    assert model.set_params(max_iter=80).max_iter == 80
    assert model.fit([1, 0, 2], [3, 0, 9], [10, 8, 12]) is model


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([1, -1], [2, 0], [5, 5], "negative"),
        ([1, 0], [6, 0], [5, 5], "recency is larger than T"),
        ([1.5, 0], [2, 0], [5, 5], "whole number"),
        ([1, 0], [0, 0], [5, 5], "recency is 0 for customers with repeat purchases"),
        ([0, 1], [2, 2], [5, 5], "recency is not 0"),
        ([1, 0], [2, 0], [5], "different lengths"),
        ([1, 0], [np.nan, 0], [5, 5], "missing or infinite"),
        ([1, 0], [2, 0], [np.inf, 5], "missing or infinite"),
        ([0, 0], [0, 0], [5, 5], "at least one customer with a repeat purchase"),
        (["a", 0], [0, 0], [5, 5], "must be numbers"),
    ],
)
def test_bad_summaries_are_refused_with_a_clear_error(frequency, recency, T, message):  # noqa: N803
    with pytest.raises(ValidationError, match=message):
        BetaGeo().fit(frequency, recency, T)


def test_predicting_before_fitting_or_with_a_bad_horizon_is_refused(fitted):
    with pytest.raises(ValidationError, match="not fitted"):
        BetaGeo().conditional_probability_alive([0], [0], [1])
    with pytest.raises(ValidationError, match="horizon"):
        fitted.conditional_expected_purchases(-1, [0], [0], [1])
