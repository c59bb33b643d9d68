"""Comparisons of two arms: golden numbers, degenerate input, coverage and peeking.

The golden numbers are derived by hand from the formulas in ``journeylens.stats.compare``'s
docstring for control 100/1000 and treatment 120/1000 conversions:
p꜀ = 0.1, pₜ = 0.12, s²꜀ = 0.09, s²ₜ = 0.1056, relative lift r̂ = 0.2,
V = 0.1056 ÷ (1000·0.01) + 0.0144·0.09 ÷ (1000·0.0001) = 0.01056 + 0.01296 = 0.02352,
sd = 0.153362, z = r̂ ÷ sd = 1.304101, Welch df = (1.956e-4)² ÷ ((1.056e-4)² + (9e-5)²)·999
= 1985.37.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from journeylens.errors import ValidationError
from journeylens.stats import CupedMean, GaussianPrior, Mean, Proportion, Ratio, compare

CONTROL, TREATMENT = Proportion(1000, 100), Proportion(1000, 120)


def test_the_frequentist_comparison_is_welchs_t_test_on_the_relative_lift():
    c = compare(CONTROL, TREATMENT, "frequentist")
    assert c.lift == pytest.approx(0.2)
    # p = 2·(1 − T₁₉₈₅.₃₇(1.304101)); t₀.₉₇₅ = 1.961160.
    assert c.p_value == pytest.approx(0.192350, abs=1e-6)
    half = 1.961160 * 0.153362
    assert c.lift_interval == pytest.approx((0.2 - half, 0.2 + half), abs=1e-5)
    assert c.difference == pytest.approx(0.02)
    assert not c.significant
    assert c.chance_to_win is None
    assert c.risk is None


def test_the_absolute_difference_interval_agrees_with_scipys_welch_statistic():
    # control: mean 3, s² = (400 − 120²/40)/39 = 40/39; treatment: mean 3.5, s² = 87.5/49
    c = compare(Mean(40, 120.0, 400.0), Mean(50, 175.0, 700.0), "frequentist")
    vc, vt = 40 / 39 / 40, 87.5 / 49 / 50  # squared standard errors
    welch = sps.ttest_ind_from_stats(
        3.5, math.sqrt(87.5 / 49), 50, 3.0, math.sqrt(40 / 39), 40, equal_var=False
    )
    low, high = c.difference_interval
    se = c.difference / welch.statistic
    assert se == pytest.approx(math.sqrt(vc + vt))
    df = (vc + vt) ** 2 / (vt**2 / 49 + vc**2 / 39)
    assert (high - low) / 2 == pytest.approx(sps.t.ppf(0.975, df) * se)


def test_the_bayesian_comparison_with_a_flat_prior_gives_chance_to_win_and_risk():
    c = compare(CONTROL, TREATMENT, "bayesian")
    assert c.lift == pytest.approx(0.2)
    assert c.chance_to_win == pytest.approx(0.903900, abs=1e-6)  # Φ(1.304101)
    # risk = −r̂·Φ(−z) + sd·φ(z) = −0.2·0.096100 + 0.153362·0.170353
    assert c.risk == pytest.approx(0.006922, abs=1e-6)
    assert c.risk_control == pytest.approx(0.206922, abs=1e-6)  # risk + r̂
    half = 1.959964 * 0.153362
    assert c.lift_interval == pytest.approx((0.2 - half, 0.2 + half), abs=1e-5)
    assert c.p_value is None


def test_a_gaussian_prior_shrinks_the_lift_towards_its_mean():
    c = compare(CONTROL, TREATMENT, "bayesian", prior=GaussianPrior(0.0, 0.09))
    # precision 1/0.02352 + 1/0.09 = 53.6281; mean = (0.2/0.02352) / 53.6281 = 0.158562
    assert c.lift == pytest.approx(0.158562, abs=1e-6)
    assert c.chance_to_win == pytest.approx(sps.norm.cdf(0.158562 * math.sqrt(53.6281)), abs=1e-5)


def test_the_sequential_p_value_is_the_inverse_mixture_likelihood_ratio():
    c = compare(CONTROL, TREATMENT, "sequential", mixing_variance=0.01)
    # Λ = sqrt(0.02352/0.03352)·exp(0.01·0.04 / (2·0.02352·0.03352)) = 0.837658·1.288761
    assert c.p_value == pytest.approx(1 / (0.837658 * 1.288761), abs=1e-5)
    # half-width = sqrt(0.02352·0.03352/0.01 · (2·ln 20 + ln(0.03352/0.02352))) = 0.707314
    assert c.lift_interval == pytest.approx((0.2 - 0.707314, 0.2 + 0.707314), abs=1e-6)


def test_cuped_narrows_the_interval_when_the_pre_period_predicts_the_metric():
    rng = np.random.default_rng(3)
    arms = []
    for effect in (0.0, 0.5):
        x = rng.normal(10, 3, 400)
        y = x + rng.normal(effect, 1, 400)
        arms.append((x, y))
    plain = [Mean(400, y.sum(), (y * y).sum()) for _, y in arms]
    cuped = [
        CupedMean(400, y.sum(), (y * y).sum(), x.sum(), (x * x).sum(), (x * y).sum())
        for x, y in arms
    ]
    wide = compare(*plain, "frequentist").difference_interval
    narrow = compare(*cuped, "frequentist").difference_interval
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 2
    assert narrow[0] < 0.5 < narrow[1]


def test_a_ratio_metric_compares_ratios_of_sums():
    c = compare(
        Ratio(100, 5000.0, 400000.0, 100.0, 120.0, 6000.0),
        Ratio(100, 5500.0, 480000.0, 100.0, 120.0, 6500.0),
        "frequentist",
    )
    assert c.control_mean == 50.0
    assert c.treatment_mean == 55.0
    assert c.lift == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("control", "treatment", "code"),
    [
        (Proportion(1, 1), Proportion(10, 2), "TOO_FEW_UNITS"),
        (Proportion(10, 0), Proportion(10, 2), "ZERO_CONTROL_MEAN"),
        (Mean(3, 6.0, 12.0), Mean(3, 9.0, 27.0), "ZERO_VARIANCE"),
        (Ratio(3, 1.0, 1.0, 0.0, 0.0, 0.0), Ratio(3, 1.0, 1.0, 1.0, 1.0, 1.0), "TOO_FEW_UNITS"),
    ],
)
@pytest.mark.parametrize("method", ["bayesian", "frequentist", "sequential"])
def test_degenerate_arms_give_nan_numbers_and_a_code_not_an_exception(
    control, treatment, code, method
):
    c = compare(control, treatment, method)
    assert c.degenerate == code
    assert math.isnan(c.lift)
    assert not c.significant
    assert c.to_dict()["lift_interval"] == [None, None]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "magic"}, "Unknown comparison method"),
        ({"alpha": 1.5}, "alpha"),
        ({"mixing_variance": 0.0}, "mixing_variance"),
        ({"treatment": Mean(10, 1.0, 1.0)}, "same kind"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    args = {"control": CONTROL, "treatment": TREATMENT, **kwargs}
    with pytest.raises(ValidationError, match=message):
        compare(**args)


def test_a_prior_needs_a_positive_variance():
    with pytest.raises(ValidationError, match="variance"):
        GaussianPrior(0.0, 0.0)


# ----------------------------------------------------------------------------------- coverage

RUNS = 1000


def _covered_share(pairs, truth: float, method: str) -> float:
    hits = 0
    for control, treatment in pairs:
        low, high = compare(control, treatment, method).lift_interval
        hits += low <= truth <= high
    return hits / len(pairs)


def _binomial_band(rate: float, runs: int) -> float:
    """3.5 binomial standard deviations of an observed rate around ``rate``."""
    return 3.5 * math.sqrt(rate * (1 - rate) / runs)


def _proportion_pairs(seed: int, n: int, p: float, lift: float) -> list:
    rng = np.random.default_rng(seed)
    control = rng.binomial(n, p, RUNS)
    treatment = rng.binomial(n, p * (1 + lift), RUNS)
    return [
        (Proportion(n, int(c)), Proportion(n, int(t)))
        for c, t in zip(control, treatment, strict=True)
    ]


@pytest.mark.parametrize("method", ["frequentist", "bayesian"])
def test_the_95_percent_interval_covers_a_planted_lift_95_percent_of_the_time(method):
    share = _covered_share(_proportion_pairs(11, 2000, 0.1, 0.15), 0.15, method)
    assert abs(share - 0.95) <= _binomial_band(0.95, RUNS)


def test_the_confidence_sequence_covers_a_planted_lift_at_least_at_its_stated_rate():
    share = _covered_share(_proportion_pairs(12, 2000, 0.1, 0.15), 0.15, "sequential")
    assert share >= 0.95 - _binomial_band(0.95, RUNS)


def test_cuped_and_ratio_intervals_cover_the_planted_lift_at_the_stated_rate():
    rng = np.random.default_rng(13)
    units, runs = 300, 400
    cuped, ratio = [], []
    for _ in range(runs):
        arms_c, arms_r = [], []
        for scale in (1.0, 1.1):  # treatment: +10 % on the metric and on revenue per order
            x = rng.gamma(4.0, 2.5, units)
            y = scale * (x + rng.normal(0, 2, units) + 5)
            arms_c.append(
                CupedMean(units, y.sum(), (y * y).sum(), x.sum(), (x * x).sum(), (x * y).sum())
            )
            orders = rng.poisson(2.0, units).astype(float)
            revenue = scale * orders * 20 + rng.normal(0, 5, units) * np.sqrt(orders)
            arms_r.append(
                Ratio(
                    units,
                    revenue.sum(),
                    (revenue**2).sum(),
                    orders.sum(),
                    (orders**2).sum(),
                    (revenue * orders).sum(),
                )
            )
        cuped.append(tuple(arms_c))
        ratio.append(tuple(arms_r))
    for pairs in (cuped, ratio):
        share = _covered_share(pairs, 0.1, "frequentist")
        assert abs(share - 0.95) <= _binomial_band(0.95, runs)


def test_sequential_p_values_stay_valid_under_continuous_peeking_where_a_t_test_does_not():
    # A/A tests looked at after every batch of 100 units per arm, 20 looks each: stopping at
    # the first p < 0.05 is a false positive. The always-valid p-value keeps that rate below
    # alpha; the fixed-horizon t-test read the same way far exceeds it.
    rng = np.random.default_rng(14)
    experiments, looks, batch, rate = 1000, 20, 100, 0.2
    successes = rng.binomial(batch, rate, (experiments, looks, 2)).cumsum(axis=1)
    sequential = naive = 0
    for e in range(experiments):
        seq_hit = naive_hit = False
        for look in range(looks):
            n = batch * (look + 1)
            control = Proportion(n, int(successes[e, look, 0]))
            treatment = Proportion(n, int(successes[e, look, 1]))
            seq_hit |= compare(control, treatment, "sequential").p_value < 0.05
            naive_hit |= compare(control, treatment, "frequentist").p_value < 0.05
        sequential += seq_hit
        naive += naive_hit
    assert sequential / experiments <= 0.05 + _binomial_band(0.05, experiments)
    assert naive / experiments > 0.05 + 3 * _binomial_band(0.05, experiments)
