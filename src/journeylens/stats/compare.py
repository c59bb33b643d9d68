"""Compare a treatment arm with control from their sufficient statistics.

All three methods work on the **relative lift** r = μₜ ÷ μ꜀ − 1 with a normal approximation of
its sampling distribution, whose variance comes from the delta method (as GrowthBook's gbstats
does since 2023; no log transform):

    V = s²ₜ ÷ (nₜ·μ꜀²) + μₜ²·s²꜀ ÷ (n꜀·μ꜀⁴)

where s² is each arm's per-unit ``variance``. The absolute difference Δ = μₜ − μ꜀ with variance
s²ₜ/nₜ + s²꜀/n꜀ is reported beside it with the same method.

- ``bayesian``: posterior of r ∝ N(r̂, V) × prior, the prior flat (``prior=None``) or a
  :class:`GaussianPrior` on r. Chance to win = P(r > 0); the interval is the central
  1 − alpha credible interval; risk = expected loss E[max(0, −r)] of shipping the treatment
  (and of keeping control, E[max(0, r)]), in units of relative lift. Δ gets the flat-prior
  posterior.
- ``frequentist``: Welch's t-test; degrees of freedom from Welch–Satterthwaite on the absolute
  variances, used for both Δ and r.
- ``sequential``: mixture SPRT (Johari, Koomen, Pekelis & Walsh 2017/2022) with a N(0, τ²)
  mixture over the effect: Λ = sqrt(V ÷ (V + τ²))·exp(τ²·r̂² ÷ (2V(V + τ²))), always-valid
  p = min(1, 1/Λ), and the confidence sequence r̂ ± sqrt(V(V + τ²)/τ² · (2·ln(1/alpha) +
  ln((V + τ²)/V))). τ² (``mixing_variance``) is on the relative-lift scale: the default 0.01
  puts the mixture's standard deviation at a 10 % lift; for Δ it is scaled by μ꜀². When
  monitoring, keep the running minimum of successive p-values (Johari's pₙ = min(pₙ₋₁, 1/Λₙ)).

CUPED statistics are first adjusted with θ from both arms pooled. Degenerate input (fewer than
two units in an arm, zero variance in both, a control mean of 0) gives NaN numbers and a
``degenerate`` code instead of an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

from scipy import stats as sps

from journeylens.errors import ValidationError
from journeylens.stats.statistics import CupedMean, Statistic

__all__ = ["Comparison", "GaussianPrior", "Method", "compare"]

Method = Literal["bayesian", "frequentist", "sequential"]
#: The standard library's normal is exact to double precision and much faster than scipy's
#: distribution objects for one value at a time.
_STANDARD_NORMAL = NormalDist()
_METHODS = ("bayesian", "frequentist", "sequential")


@dataclass(frozen=True)
class GaussianPrior:
    """A normal prior on the relative lift: ``mean`` and ``variance`` (0.3² = a lift within
    about ±60 % with 95 % belief, GrowthBook's default scale)."""

    mean: float = 0.0
    variance: float = 0.09

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean) and math.isfinite(self.variance) and self.variance > 0):
            raise ValidationError(
                "A Gaussian prior needs a finite mean and a variance > 0",
                received={"mean": self.mean, "variance": self.variance},
            )


@dataclass(frozen=True)
class Comparison:
    """Treatment against control.

    Attributes:
        method: ``bayesian``, ``frequentist`` or ``sequential``.
        alpha: 1 − the interval's coverage.
        control_mean, treatment_mean: the arms' estimates (CUPED-adjusted for CUPED input).
        lift: expected relative lift (treatment ÷ control − 1; posterior mean for bayesian).
        lift_interval: (low, high) of the relative lift: credible, confidence, or confidence
            sequence interval.
        difference: treatment − control in the metric's units (posterior mean for bayesian).
        difference_interval: (low, high) for it.
        chance_to_win: P(lift > 0) (bayesian; None otherwise).
        risk: expected relative loss of shipping the treatment, E[max(0, −lift)] (bayesian).
        risk_control: expected relative loss of keeping control, E[max(0, lift)] (bayesian).
        p_value: two-sided p-value (frequentist) or always-valid p-value (sequential); None for
            bayesian.
        significant: the lift interval excludes 0.
        degenerate: None, or why the numbers are NaN: ``TOO_FEW_UNITS``, ``ZERO_CONTROL_MEAN``,
            ``ZERO_VARIANCE``.
    """

    method: Method
    alpha: float
    control_mean: float
    treatment_mean: float
    lift: float
    lift_interval: tuple[float, float]
    difference: float
    difference_interval: tuple[float, float]
    chance_to_win: float | None
    risk: float | None
    risk_control: float | None
    p_value: float | None
    significant: bool
    degenerate: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every attribute as JSON values (NaN → None, intervals as two-item lists)."""

        def clean(value: Any) -> Any:
            if isinstance(value, tuple):
                return [clean(v) for v in value]
            if isinstance(value, float) and not math.isfinite(value):
                return None
            return value

        return {name: clean(getattr(self, name)) for name in self.__dataclass_fields__}


def compare(
    control: Statistic,
    treatment: Statistic,
    method: Method = "bayesian",
    *,
    alpha: float = 0.05,
    prior: GaussianPrior | None = None,
    mixing_variance: float = 0.01,
) -> Comparison:
    """Compare ``treatment`` with ``control`` (both the same kind of :mod:`statistics` object).

    ``prior`` applies to ``bayesian`` only (None = flat); ``mixing_variance`` (τ²) to
    ``sequential`` only.

    Returns:
        A :class:`Comparison` (see its attributes; rates are the statistics' own ``mean``).

    >>> from journeylens.stats import Proportion
    >>> c = compare(Proportion(1000, 100), Proportion(1000, 120), "frequentist")
    >>> round(c.lift, 3), round(c.p_value, 3)
    (0.2, 0.192)
    """
    if method not in _METHODS:
        raise ValidationError("Unknown comparison method", received=method, allowed=str(_METHODS))
    if not 0 < alpha < 1:
        raise ValidationError("`alpha` must be between 0 and 1", received=alpha)
    if not mixing_variance > 0:
        raise ValidationError("`mixing_variance` (τ²) must be > 0", received=mixing_variance)
    if type(control) is not type(treatment) or not isinstance(control, Statistic):
        raise ValidationError(
            "control and treatment must be the same kind of statistic",
            received=f"{type(control).__name__} and {type(treatment).__name__}",
            allowed="Proportion, Mean, Ratio or CupedMean, both the same",
        )
    (mc, vc), (mt, vt) = _moments(control, treatment)
    nc, nt = control.n, treatment.n
    reason = _degenerate(nc, nt, mc, mt, vc, vt)
    if reason is not None:
        return _neutral(method, alpha, mc, mt, reason)
    diff, diff_var = mt - mc, vt / nt + vc / nc
    lift = mt / mc - 1
    lift_var = vt / (nt * mc * mc) + mt * mt * vc / (nc * mc**4)
    common = {"method": method, "alpha": alpha, "control_mean": mc, "treatment_mean": mt}
    if method == "bayesian":
        return _bayesian(common, lift, lift_var, diff, diff_var, prior)
    if method == "frequentist":
        df = diff_var**2 / ((vt / nt) ** 2 / (nt - 1) + (vc / nc) ** 2 / (nc - 1))
        t = float(sps.t.ppf(1 - alpha / 2, df))
        p_value = float(2 * sps.t.sf(abs(lift) / math.sqrt(lift_var), df))
        return _result(common, lift, lift_var, diff, diff_var, t, t, p_value)
    p_value = min(1.0, 1.0 / _mixture_likelihood(lift, lift_var, mixing_variance))
    half = _sequence_half_width(lift_var, mixing_variance, alpha)
    half_diff = _sequence_half_width(diff_var, mixing_variance * mc * mc, alpha)
    lift_sd, diff_sd = math.sqrt(lift_var), math.sqrt(diff_var)
    return _result(
        common, lift, lift_var, diff, diff_var, half / lift_sd, half_diff / diff_sd, p_value
    )


def _moments(control: Statistic, treatment: Statistic) -> tuple[tuple[float, float], ...]:
    """(mean, per-unit variance) of each arm, CUPED-adjusted with a pooled θ when asked."""
    if isinstance(control, CupedMean) and isinstance(treatment, CupedMean):
        pooled = control + treatment
        theta = pooled.theta()
        pre_mean = pooled.pre_sum / pooled.n if pooled.n else 0.0
        return control.adjusted(theta, pre_mean), treatment.adjusted(theta, pre_mean)
    return (control.mean, control.variance), (treatment.mean, treatment.variance)


def _degenerate(nc: int, nt: int, mc: float, mt: float, vc: float, vt: float) -> str | None:
    if nc < 2 or nt < 2 or math.isnan(vc) or math.isnan(vt):
        return "TOO_FEW_UNITS"
    if mc == 0:
        return "ZERO_CONTROL_MEAN"
    # The lift's variance is 0 when neither arm varies, or when control does not and the
    # treatment's mean is 0 (no interval can be drawn around an exact value).
    if vt == 0 and (vc == 0 or mt == 0):
        return "ZERO_VARIANCE"
    return None


def _neutral(method: Method, alpha: float, mc: float, mt: float, reason: str) -> Comparison:
    nan = math.nan
    bayes = method == "bayesian"
    return Comparison(
        method=method,
        alpha=alpha,
        control_mean=mc,
        treatment_mean=mt,
        lift=nan,
        lift_interval=(nan, nan),
        difference=nan,
        difference_interval=(nan, nan),
        chance_to_win=nan if bayes else None,
        risk=nan if bayes else None,
        risk_control=nan if bayes else None,
        p_value=None if bayes else nan,
        significant=False,
        degenerate=reason,
    )


def _result(
    common: dict[str, Any],
    lift: float,
    lift_var: float,
    diff: float,
    diff_var: float,
    lift_z: float,
    diff_z: float,
    p_value: float | None,
    bayes: tuple[float, float, float] | None = None,
) -> Comparison:
    """A Comparison with intervals ``estimate ± z·sd`` on each scale."""
    lift_sd, diff_sd = math.sqrt(lift_var), math.sqrt(diff_var)
    low, high = lift - lift_z * lift_sd, lift + lift_z * lift_sd
    return Comparison(
        **common,
        lift=lift,
        lift_interval=(low, high),
        difference=diff,
        difference_interval=(diff - diff_z * diff_sd, diff + diff_z * diff_sd),
        chance_to_win=None if bayes is None else bayes[0],
        risk=None if bayes is None else bayes[1],
        risk_control=None if bayes is None else bayes[2],
        p_value=p_value,
        significant=bool(low > 0 or high < 0),
    )


def _bayesian(
    common: dict[str, Any],
    lift: float,
    lift_var: float,
    diff: float,
    diff_var: float,
    prior: GaussianPrior | None,
) -> Comparison:
    if prior is not None:  # conjugate normal update: precisions add
        precision = 1 / lift_var + 1 / prior.variance
        lift = (lift / lift_var + prior.mean / prior.variance) / precision
        lift_var = 1 / precision
    sd = math.sqrt(lift_var)
    z = _STANDARD_NORMAL.inv_cdf(1 - common["alpha"] / 2)
    win = _STANDARD_NORMAL.cdf(lift / sd)
    # E[max(0, X)] for X ~ N(m, s²) is m·Φ(m/s) + s·φ(m/s); the loss of shipping is X → −X.
    density = _STANDARD_NORMAL.pdf(lift / sd)
    risk_control = lift * win + sd * density
    risk = -lift * (1 - win) + sd * density
    return _result(common, lift, lift_var, diff, diff_var, z, z, None, (win, risk, risk_control))


def _mixture_likelihood(estimate: float, variance: float, tau2: float) -> float:
    """Λ of the mixture SPRT for H0: effect = 0 (capped to avoid overflow)."""
    exponent = tau2 * estimate * estimate / (2 * variance * (variance + tau2))
    return math.sqrt(variance / (variance + tau2)) * math.exp(min(exponent, 700.0))


def _sequence_half_width(variance: float, tau2: float, alpha: float) -> float:
    """Half-width of the 1 − alpha confidence sequence of the mixture SPRT."""
    spread = variance * (variance + tau2) / tau2
    return math.sqrt(spread * (2 * math.log(1 / alpha) + math.log((variance + tau2) / variance)))
