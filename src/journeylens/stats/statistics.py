"""Sufficient statistics of one experiment arm: what the engine aggregates, what inference reads.

Each class holds sums that add across segments (days, shards: ``a + b``), is frozen, and is
validated when built: counts are whole and ≥ 0, successes ≤ n, and the sums are consistent (no
negative variance beyond floating-point rounding). Each offers the same three numbers that
:func:`journeylens.stats.compare` reads:

- ``n``: units (usually persons);
- ``mean``: the point estimate (a rate, a mean per unit, or a ratio of two sums);
- ``variance``: the per-unit variance of that estimate, so its standard error is
  ``sqrt(variance / n)`` (for a ratio, the delta-method variance of the linearised unit value).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

from journeylens.errors import ValidationError

__all__ = ["CupedMean", "Mean", "Proportion", "Ratio", "Statistic"]

#: Relative tolerance for a variance computed from sums: ``n·Σx² − (Σx)²`` may come out a hair
#: below zero from rounding when every value is equal; more than this is inconsistent input.
_ROUNDING = 1e-9


def _count(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(
            f"`{name}` must be a whole number ≥ 0",
            received=value,
            fix=f"Pass the number of units as an int, e.g. {name}=1000",
        )


def _finite(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"`{name}` must be a finite number", received=value)


def _spread(n: int, total: float, squares: float, name: str) -> float:
    """``n·Σx² − (Σx)²`` (≥ 0), refusing sums no real data could give."""
    centred = n * squares - total * total
    if centred < -_ROUNDING * max(abs(n * squares), total * total, 1.0):
        raise ValidationError(
            f"The sums of `{name}` are inconsistent: the sum of squares is too small for the sum",
            received={"n": n, "sum": total, "sum_squares": squares},
            allowed="n · sum_squares ≥ sum²",
            fix="Check that sum_squares adds the squared values of the same units as sum",
        )
    return max(centred, 0.0)


def _paired(
    stat: Statistic, sums: tuple[float, float, float, float, float], names: tuple[str, str]
) -> tuple[float, float, float]:
    """Validate a statistic of two paired values per unit, from its ``(Σx, Σx², Σy, Σy², Σxy)``.

    Returns:
        The sample variances of x and y and their covariance (n − 1 denominators; NaN with
        fewer than two units).
    """
    n = stat.n
    _count(n, "n")
    for f in fields(stat)[1:]:  # type: ignore[arg-type]
        _finite(getattr(stat, f.name), f.name)
    x, xx, y, yy, xy = sums
    spread_x, spread_y = _spread(n, x, xx, names[0]), _spread(n, y, yy, names[1])
    spread_xy = n * xy - x * y
    # Cauchy–Schwarz: a covariance beyond the two standard deviations is not real data.
    if spread_xy * spread_xy > spread_x * spread_y * (1 + 1e-6) + _ROUNDING * max(
        spread_xy * spread_xy, 1.0
    ):
        raise ValidationError(
            f"The sum of products is inconsistent with the sums of {names[0]} and {names[1]}",
            received=xy,
            allowed=f"|covariance| ≤ sd({names[0]}) · sd({names[1]})",
            fix="Sum the per-unit products over the same units as the other sums",
        )
    if n < 2:
        return math.nan, math.nan, math.nan
    return spread_x / (n * (n - 1)), spread_y / (n * (n - 1)), spread_xy / (n * (n - 1))


class Statistic(ABC):
    """What every sufficient statistic offers: ``n``, ``mean``, ``variance``, and ``a + b``."""

    n: int

    @property
    @abstractmethod
    def mean(self) -> float:
        """The point estimate; NaN without units."""

    @property
    @abstractmethod
    def variance(self) -> float:
        """Per-unit variance of the estimate; NaN with fewer than two units."""

    def __add__(self, other: Self) -> Self:
        """The statistic of both groups of units together (sums add)."""
        if type(other) is not type(self):
            return NotImplemented
        sums = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        return type(self)(**sums)


@dataclass(frozen=True)
class Proportion(Statistic):
    """``successes`` of ``n`` units converted.

    Returns (properties): ``mean`` = successes ÷ n; ``variance`` = p(1 − p).

    >>> Proportion(n=200, successes=50).mean
    0.25
    """

    n: int
    successes: int

    def __post_init__(self) -> None:
        _count(self.n, "n")
        _count(self.successes, "successes")
        if self.successes > self.n:
            raise ValidationError(
                "`successes` cannot exceed `n`",
                received={"n": self.n, "successes": self.successes},
                fix="Count each unit at most once as a success",
            )

    @property
    def mean(self) -> float:
        return self.successes / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        p = self.mean
        return p * (1 - p) if self.n >= 2 else math.nan


@dataclass(frozen=True)
class Mean(Statistic):
    """A metric per unit (revenue per person, events per person) from its sum and sum of squares.

    Returns (properties): ``mean`` = sum ÷ n; ``variance`` = the sample variance
    (n − 1 denominator).

    >>> m = Mean(n=4, sum=10.0, sum_squares=30.0)
    >>> m.mean, round(m.variance, 6)
    (2.5, 1.666667)
    """

    n: int
    sum: float
    sum_squares: float

    def __post_init__(self) -> None:
        _count(self.n, "n")
        _finite(self.sum, "sum")
        _finite(self.sum_squares, "sum_squares")
        _spread(self.n, self.sum, self.sum_squares, "the metric")

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        if self.n < 2:
            return math.nan
        return _spread(self.n, self.sum, self.sum_squares, "the metric") / (self.n * (self.n - 1))


class _Paired(Statistic):
    """A statistic of two values per unit: validated on creation from ``_sums()``
    (Σx, Σx², Σy, Σy², Σxy), whose ``_moments()`` are (s²ₓ, s²ᵧ, sₓᵧ)."""

    _names: ClassVar[tuple[str, str]]

    @abstractmethod
    def _sums(self) -> tuple[float, float, float, float, float]: ...

    def __post_init__(self) -> None:
        self._moments()

    def _moments(self) -> tuple[float, float, float]:
        return _paired(self, self._sums(), self._names)


@dataclass(frozen=True)
class Ratio(_Paired):
    """A ratio of two per-unit sums (revenue per order, orders per session), where the unit of
    randomisation (the person) is not the unit of the denominator.

    Returns (properties): ``mean`` = num_sum ÷ den_sum; ``variance`` = the delta-method
    per-unit variance of that ratio, ``(s²ₓ − 2R·sₓᵧ + R²·s²ᵧ) ÷ ȳ²`` with R the ratio, x the
    numerator and y the denominator per unit, s² and sₓᵧ sample (co)variances, ȳ = den_sum ÷ n;
    NaN when the denominators sum to 0.

    >>> r = Ratio(n=3, num_sum=6.0, num_sum_squares=14.0, den_sum=3.0, den_sum_squares=3.0,
    ...           num_den_sum_of_products=6.0)
    >>> r.mean, r.variance
    (2.0, 1.0)
    """

    n: int
    num_sum: float
    num_sum_squares: float
    den_sum: float
    den_sum_squares: float
    num_den_sum_of_products: float

    _names = ("the numerator", "the denominator")

    def _sums(self) -> tuple[float, float, float, float, float]:
        return (
            self.num_sum,
            self.num_sum_squares,
            self.den_sum,
            self.den_sum_squares,
            self.num_den_sum_of_products,
        )

    @property
    def mean(self) -> float:
        return self.num_sum / self.den_sum if self.den_sum else math.nan

    @property
    def variance(self) -> float:
        if self.n < 2 or not self.den_sum:
            return math.nan
        ratio, den_mean = self.mean, self.den_sum / self.n
        var_x, var_y, cov = self._moments()
        return max(var_x - 2 * ratio * cov + ratio * ratio * var_y, 0.0) / (den_mean * den_mean)


@dataclass(frozen=True)
class CupedMean(_Paired):
    """A mean per unit with a pre-period covariate (the same metric before exposure) for CUPED.

    ``compare`` estimates θ = cov(y, x) ÷ var(x) from both arms pooled and compares the adjusted
    means ȳ − θ(x̄ − x̄_pooled), whose per-unit variance is s²ᵧ − 2θ·sₓᵧ + θ²·s²ₓ (Deng et al.
    2013). On its own the statistic is its plain mean.

    Returns (properties): ``mean`` = sum ÷ n and ``variance`` (unadjusted, as :class:`Mean`).

    >>> CupedMean(n=2, sum=3.0, sum_squares=5.0, pre_sum=1.0, pre_sum_squares=1.0,
    ...           sum_of_products=2.0).mean
    1.5
    """

    n: int
    sum: float
    sum_squares: float
    pre_sum: float
    pre_sum_squares: float
    sum_of_products: float

    _names = ("the metric", "the pre-period covariate")

    def _sums(self) -> tuple[float, float, float, float, float]:
        return self.sum, self.sum_squares, self.pre_sum, self.pre_sum_squares, self.sum_of_products

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        return self._moments()[0]  # NaN below two units

    def adjusted(self, theta: float, pooled_pre_mean: float) -> tuple[float, float]:
        """The CUPED-adjusted mean and its per-unit variance for a given θ and pooled x̄.

        Returns:
            ``(mean, variance)``: ȳ − θ(x̄ − pooled_pre_mean) and s²ᵧ − 2θ·sₓᵧ + θ²·s²ₓ.
        """
        if self.n < 2:
            return self.mean, math.nan
        var_y, var_x, cov = self._moments()
        mean = self.mean - theta * (self.pre_sum / self.n - pooled_pre_mean)
        return mean, max(var_y - 2 * theta * cov + theta * theta * var_x, 0.0)

    def theta(self) -> float:
        """θ = cov(metric, covariate) ÷ var(covariate) of these units (0 when var is 0).

        Returns:
            The regression slope of the metric on the pre-period value; call it on the pooled
            statistic (``control + treatment``) as ``compare`` does.
        """
        if self.n < 2:
            return 0.0
        _, var_x, cov = self._moments()
        return cov / var_x if var_x > 0 else 0.0
