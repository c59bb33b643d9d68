"""BG/NBD: how often a customer buys and whether they are still a customer.

The beta-geometric / negative binomial distribution model of Fader, Hardie and Lee, "Counting
your customers the easy way" (Marketing Science, 2005). While alive, a customer buys as a
Poisson process of rate ``lambda ~ Gamma(r, alpha)`` (shape ``r``, rate ``alpha``); after every
repeat purchase they leave for good with probability ``p ~ Beta(a, b)``. A customer is summarised
by three numbers in one time unit (days, weeks...):

- **frequency** ``x``: repeat purchases (purchases after the first, one per time unit at most
  when the summary comes from :func:`journeylens.predict.clv.clv_summary`);
- **recency** ``t_x``: age at the latest purchase (0 without repeat purchases);
- **T**: age at the end of the observation.

The parameters are found by maximum likelihood over ``log(r, alpha, a, b)`` (so they stay
positive) with L-BFGS and the analytic gradient. Every probability is handled in log space
(``gammaln``/``betaln`` and a log-sum-exp of the two likelihood terms) so that customers with
many purchases or long histories neither overflow nor lose precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaincinv, betaln, digamma, expit, gammaln, hyp2f1
from sklearn.base import BaseEstimator

from journeylens.errors import ValidationError

__all__ = ["BetaGeo", "summary_arrays"]

ArrayLike = float | Sequence[float] | np.ndarray | Any

# Log-parameters are kept in a box so a degenerate sample (say, nobody ever comes back) walks to
# a large but finite value instead of overflowing exp().
_LOG_BOUND = 30.0


def summary_arrays(
    frequency: ArrayLike,
    recency: ArrayLike | None = None,
    T: ArrayLike | None = None,  # noqa: N803 (the model's name for it)
    monetary_value: ArrayLike | None = None,
) -> tuple[np.ndarray, ...]:
    """Check a customer summary and return its columns as float arrays of one length.

    The rules: every value finite and non-negative; frequency a whole number; recency at most T;
    recency 0 exactly when frequency is 0 (a repeat purchase happens after the first one).

    Returns:
        The given columns (``None`` ones skipped) as 1-d float64 arrays, in argument order.

    >>> summary_arrays([0, 2], [0, 5.0], [10, 10])[1].tolist()
    [0.0, 5.0]
    """
    named = {"frequency": frequency, "recency": recency, "T": T, "monetary_value": monetary_value}
    arrays = {k: _array(k, v) for k, v in named.items() if v is not None}
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValidationError(
            "The customer summary columns have different lengths",
            received=lengths,
            allowed="one value per customer in every column",
            fix="Pass the columns of one summary table",
        )
    x = arrays["frequency"]
    if np.any(x != np.round(x)):
        raise ValidationError(
            "frequency must be a whole number of repeat purchases",
            received=x[x != np.round(x)][:5].tolist(),
            allowed="0, 1, 2, ...",
            fix="Count repeat purchases (see clv_summary)",
        )
    if "recency" in arrays:
        _check_recency(x, arrays["recency"], arrays.get("T"))
    return tuple(arrays.values())


def _array(name: str, value: ArrayLike) -> np.ndarray:
    try:
        array = np.atleast_1d(np.asarray(value, dtype="float64"))
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{name} must be numbers", received=value, allowed="an array of numbers"
        ) from exc
    if array.ndim != 1:
        raise ValidationError(
            f"{name} must be one-dimensional", received=array.shape, allowed="one value a customer"
        )
    if not np.all(np.isfinite(array)):
        raise ValidationError(
            f"{name} has missing or infinite values",
            received=array[~np.isfinite(array)][:5].tolist(),
            allowed="finite numbers",
            fix="Drop or fill those customers before fitting",
        )
    if np.any(array < 0):
        raise ValidationError(
            f"{name} has negative values",
            received=array[array < 0][:5].tolist(),
            allowed="numbers >= 0",
        )
    return array


def _check_recency(x: np.ndarray, recency: np.ndarray, ages: np.ndarray | None) -> None:
    late = recency > ages if ages is not None else np.zeros(recency.shape, dtype=bool)
    if np.any(late):
        raise ValidationError(
            "recency is larger than T for some customers",
            received={"recency": recency[late][:5].tolist(), "T": ages[late][:5].tolist()},
            allowed="recency <= T (a customer's last purchase is not after the observation end)",
        )
    if np.any((x == 0) & (recency != 0)):
        raise ValidationError(
            "recency is not 0 for customers without repeat purchases",
            received=recency[(x == 0) & (recency != 0)][:5].tolist(),
            allowed="recency = 0 when frequency = 0",
        )
    if np.any((x > 0) & (recency == 0)):
        raise ValidationError(
            "recency is 0 for customers with repeat purchases",
            received=x[(x > 0) & (recency == 0)][:5].tolist(),
            allowed="recency > 0 when frequency > 0 (repeat purchases come after the first)",
            fix="Measure recency as the age at the latest purchase (see clv_summary)",
        )


class BetaGeo(BaseEstimator):
    """The BG/NBD model, fitted by maximum likelihood.

    Learned attributes: ``params_`` (``{"r", "alpha", "a", "b"}``), ``log_likelihood_`` (the
    total over customers at ``params_``), ``n_customers_``.

    >>> model = BetaGeo().fit([0, 1, 2, 0, 4, 1], [0, 5, 20, 0, 30, 2], [30, 30, 35, 25, 40, 38])
    >>> sorted(model.params_)
    ['a', 'alpha', 'b', 'r']
    >>> model.conditional_probability_alive([0, 2], [0, 20], [30, 30]).round(2).tolist()
    [1.0, 0.77]
    """

    def __init__(self, *, max_iter: int = 500) -> None:
        self.max_iter = max_iter

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BetaGeo:  # noqa: N803
        """Fit ``r, alpha, a, b`` to one summary row per customer.

        Returns:
            self, with ``params_``, ``log_likelihood_`` and ``n_customers_`` set.
        """
        x, t_x, big_t = summary_arrays(frequency, recency, T)
        if x.size == 0 or not np.any(x > 0):
            raise ValidationError(
                "BG/NBD needs at least one customer with a repeat purchase",
                received=f"{x.size} customers, none with frequency > 0",
                fix="Use a longer history or an earlier first purchase",
            )
        data = _Counts(x, t_x, big_t)
        n = x.size
        result = minimize(
            lambda theta: _negative(data.log_likelihood(np.exp(theta)), n),
            x0=np.zeros(4),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4,
            options={"maxiter": self.max_iter, "gtol": 1e-10, "ftol": 1e-15},
        )
        r, alpha, a, b = (float(v) for v in np.exp(result.x))
        self.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
        self.log_likelihood_ = float(data.log_likelihood(np.exp(result.x))[0])
        self.n_customers_ = n
        return self

    def conditional_probability_alive(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803
    ) -> np.ndarray:
        """P(alive at T | x, t_x, T): the chance each customer has not left yet.

        ``1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))``, and 1 for
        customers without repeat purchases (nobody leaves before their first repeat purchase).

        Returns:
            One probability in (0, 1] per customer (a float array).
        """
        r, alpha, a, b = self._fitted()
        x, t_x, big_t = summary_arrays(frequency, recency, T)
        return _p_alive(x, t_x, big_t, r, alpha, a, b)

    def conditional_expected_purchases(
        self,
        t: float,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803
    ) -> np.ndarray:
        """E[purchases in (T, T + t] | x, t_x, T]: expected purchases of each customer in the
        next ``t`` time units, given their history.

        Equation (10) of Fader, Hardie and Lee (2005), with the Gauss hypergeometric term taken
        through Euler's transformation so its parameters do not grow with ``x``:
        ``(1 - z) ** (r + x) * 2F1(r + x, b + x; a + b + x - 1; z)
        = (1 - z) ** (a - 1) * 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z)``,
        ``z = t / (alpha + T + t)``. Far from the parameters of real data (a fit driven to
        ``a, b`` in the thousands by a tiny sample) ``hyp2f1`` loses all precision; there the
        same expectation is integrated numerically (see :func:`_if_alive_by_quadrature`).

        Returns:
            One expected count >= 0 per customer (a float array).
        """
        r, alpha, a, b = self._fitted()
        x, t_x, big_t = summary_arrays(frequency, recency, T)
        horizon = _horizon(t)
        z = horizon / (alpha + big_t + horizon)
        with np.errstate(all="ignore"):
            tail = (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
            if_alive = (a + b + x - 1) / (a - 1) * (1 - tail)
        # Without dropout a customer would buy (r + x) t / (alpha + T) on average: a bound that
        # every correct value respects and that flags a failed hypergeometric evaluation.
        ceiling = (r + x) * horizon / (alpha + big_t)
        wrong = ~np.isfinite(if_alive) | (if_alive < 0) | (if_alive > ceiling * (1 + 1e-9))
        if np.any(wrong):
            if_alive[wrong] = _if_alive_by_quadrature(
                horizon, x[wrong], big_t[wrong], r, alpha, a, b
            )
        return _p_alive(x, t_x, big_t, r, alpha, a, b) * if_alive

    def expected_purchases(self, t: float) -> float:
        """E[repeat purchases in (0, t]] of a customer who has just made their first purchase.

        Returns:
            The expected count (a float >= 0).
        """
        return float(self.conditional_expected_purchases(t, 0, 0, 0)[0])

    def _fitted(self) -> tuple[float, float, float, float]:
        if not hasattr(self, "params_"):
            raise ValidationError(
                "This BetaGeo model is not fitted yet", fix="Call fit(frequency, recency, T) first"
            )
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]


def _horizon(t: float) -> float:
    if not np.isscalar(t) or not np.isfinite(t) or t < 0:
        raise ValidationError(
            "The prediction horizon t must be a finite number >= 0",
            received=t,
            allowed="one number of time units, in the unit of recency and T",
        )
    return float(t)


# Gauss-Legendre nodes on (0, 1) for the quantile integral of _if_alive_by_quadrature.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(64)
_NODES, _WEIGHTS = (_NODES + 1) / 2, _WEIGHTS / 2


def _if_alive_by_quadrature(
    t: float, x: np.ndarray, big_t: np.ndarray, r: float, alpha: float, a: float, b: float
) -> np.ndarray:
    """E[purchases in (T, T + t] | alive at T] by integrating over the dropout probability.

    Given alive at T, ``lambda ~ Gamma(r + x, alpha + T)`` and ``p ~ Beta(a, b + x)``; a
    customer with both buys ``(1 - exp(-lambda p t)) / p`` on average in ``t``. Integrating
    ``lambda`` out leaves ``E_p[(1 - (1 + p t / (alpha + T)) ** -(r + x)) / p]``, a smooth
    bounded function of ``p``, averaged here over 64 quantiles of the beta distribution.
    """
    values, index = np.unique(x, return_inverse=True)
    with np.errstate(all="ignore"):
        quantiles = betaincinv(a, b + values[:, None], _NODES[None, :])  # distinct x × nodes
    p = np.clip(quantiles[index], 1e-300, 1.0)
    c = (t / (alpha + big_t))[:, None]
    g = -np.expm1(-(r + x)[:, None] * np.log1p(p * c)) / p
    return g @ _WEIGHTS


def _p_alive(
    x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, r: float, alpha: float, a: float, b: float
) -> np.ndarray:
    repeat = x > 0
    # Odds of having left, in logs: log(a / (b + x - 1)) + (r + x) log((alpha + T) / (alpha + t_x)).
    # b + x - 1 > 0 whenever x >= 1; the np.where guard keeps x = 0 rows from taking a log of <= 0.
    log_odds = np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0))
    log_odds = log_odds + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    return np.where(repeat, expit(-log_odds), 1.0)


def _negative(value_and_gradient: tuple[float, np.ndarray], n: int) -> tuple[float, np.ndarray]:
    # The mean keeps the objective's scale independent of the number of customers.
    value, gradient = value_and_gradient
    return -value / n, -gradient / n


class _Counts:
    """A summary ready for the likelihood: the terms that depend on ``x`` alone are computed once
    per distinct frequency (there are few) instead of once per customer."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> None:
        self.values, self.index = np.unique(x, return_inverse=True)
        self.x, self.t_x, self.big_t = x, t_x, big_t
        self.repeat = x > 0

    def log_likelihood(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """Total log-likelihood and its gradient with respect to ``log(r, alpha, a, b)``.

        Per customer, with ``B`` the beta function:
        ``L = Gamma(r + x) alpha^r / Gamma(r) * [B(a, b + x) / B(a, b) / (alpha + T)^(r + x)
        + [x > 0] B(a + 1, b + x - 1) / B(a, b) / (alpha + t_x)^(r + x)]``.
        """
        r, alpha, a, b = params
        u = self.values
        safe = np.maximum(u, 1.0)  # the second term exists for x >= 1 only
        # Per distinct x: the x-only parts of log A, log term 1 and log term 2, and digammas.
        head = gammaln(r + u) - gammaln(r) + r * np.log(alpha)
        beta_ab = betaln(a, b)
        part1 = betaln(a, b + u) - beta_ab
        part2 = np.where(u > 0, betaln(a + 1, b + safe - 1) - beta_ab, -np.inf)
        psi_ab, psi_abx = digamma(a + b), digamma(a + b + u)
        d_head_r = digamma(r + u) - digamma(r) + np.log(alpha)
        d1_a = psi_ab - psi_abx
        d1_b = digamma(b + u) - psi_abx - digamma(b) + psi_ab
        d2_a = digamma(a + 1) - psi_abx - digamma(a) + psi_ab
        d2_b = np.where(u > 0, digamma(b + safe - 1) - psi_abx - digamma(b) + psi_ab, 0.0)

        i = self.index
        rx = r + self.x
        log_t, log_tx = np.log(alpha + self.big_t), np.log(alpha + self.t_x)
        term1 = part1[i] - rx * log_t
        term2 = part2[i] - rx * log_tx
        total = np.logaddexp(term1, term2)  # term2 = -inf when x = 0
        w2 = np.exp(term2 - total)
        w1 = 1.0 - w2
        value = float(np.sum(head[i] + total))

        d_r = np.sum(d_head_r[i] - w1 * log_t - w2 * log_tx)
        d_alpha = np.sum(r / alpha - rx * (w1 / (alpha + self.big_t) + w2 / (alpha + self.t_x)))
        d_a = np.sum(w1 * d1_a[i] + w2 * d2_a[i])
        d_b = np.sum(w1 * d1_b[i] + w2 * d2_b[i])
        # Chain rule for the log parameters: d/d(log theta) = theta * d/d(theta).
        return value, params * np.array([d_r, d_alpha, d_a, d_b])
