"""Gamma-Gamma: how much a customer spends per purchase.

The spend model of Fader, Hardie and Lee, "RFM and CLV: using iso-value curves for customer base
analysis" (Journal of Marketing Research, 2005), after Colombo and Jiang (1999). Each purchase of
a customer is worth ``z ~ Gamma(p, nu)``; across customers ``nu ~ Gamma(q, v)``. What a customer
shows is ``x`` purchases and their mean value ``m`` (the lifetimes convention: repeat purchases
only, so ``x`` is the BG/NBD frequency and customers with ``x = 0`` carry no spend information).

The model assumes spend is independent of purchase frequency; check the correlation of
``frequency`` and ``monetary_value`` over repeat customers before trusting it (it is small for
CDNOW). Parameters are found by maximum likelihood over ``log(p, q, v)`` with L-BFGS and the
analytic gradient.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln
from sklearn.base import BaseEstimator

from journeylens.errors import ValidationError
from journeylens.predict.bgnbd import ArrayLike, summary_arrays

__all__ = ["GammaGamma"]

_LOG_BOUND = 30.0


def _spend_arrays(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[np.ndarray, ...]:
    x, m = summary_arrays(frequency, monetary_value=monetary_value)
    if np.any(x == 0):
        raise ValidationError(
            "Gamma-Gamma needs customers with repeat purchases only",
            received=f"{int(np.sum(x == 0))} customers with frequency 0",
            allowed="frequency > 0",
            fix="Keep the rows with frequency > 0 (customers with repeat purchases)",
        )
    if np.any(m == 0):
        raise ValidationError(
            "Gamma-Gamma needs a positive average spend for every customer",
            received=f"{int(np.sum(m == 0))} customers with monetary_value 0",
            allowed="monetary_value > 0",
            fix="Keep the rows with monetary_value > 0",
        )
    return x, m


class GammaGamma(BaseEstimator):
    """The Gamma-Gamma spend model, fitted by maximum likelihood.

    Learned attributes: ``params_`` (``{"p", "q", "v"}``), ``log_likelihood_`` (the total
    over customers at ``params_``), ``n_customers_``.

    >>> model = GammaGamma().fit([1, 2, 5, 1, 3, 2], [20.0, 35.0, 28.0, 12.0, 60.0, 25.0])
    >>> sorted(model.params_)
    ['p', 'q', 'v']
    >>> model.conditional_expected_average_profit([1, 5], [20.0, 28.0]).round(1).tolist()
    [29.7, 29.9]
    """

    def __init__(self, *, max_iter: int = 500) -> None:
        self.max_iter = max_iter

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGamma:
        """Fit ``p, q, v`` to customers with repeat purchases (``frequency > 0``) and their mean
        repeat purchase value (``monetary_value > 0``).

        Returns:
            self, with ``params_``, ``log_likelihood_`` and ``n_customers_`` set.
        """
        x, m = _spend_arrays(frequency, monetary_value)
        if x.size == 0:
            raise ValidationError(
                "Gamma-Gamma needs at least one customer with repeat purchases",
                received="0 customers",
            )
        n = x.size
        result = minimize(
            lambda theta: _negative(_log_likelihood(np.exp(theta), x, m), n),
            # Start at the scale of the data: v / (q - 1) = mean spend when p = 1, q = 2.
            x0=np.log([1.0, 2.0, float(np.mean(m))]),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 3,
            options={"maxiter": self.max_iter, "gtol": 1e-10, "ftol": 1e-15},
        )
        p, q, v = (float(value) for value in np.exp(result.x))
        self.params_ = {"p": p, "q": q, "v": v}
        self.log_likelihood_ = _log_likelihood(np.exp(result.x), x, m)[0]
        self.n_customers_ = n
        return self

    def conditional_expected_average_profit(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> np.ndarray:
        """E[spend per purchase | x, m]: each customer's expected value of a future purchase.

        ``p (v + x m) / (p x + q - 1)``: a weighted average of the population mean
        ``p v / (q - 1)`` and the customer's own mean ``m``, the weight of ``m`` growing with
        ``x``. A customer without repeat purchases (``x = 0``) gets the population mean.

        Returns:
            One expected value per customer (a float array, in the unit of ``monetary_value``).
        """
        p, q, v = self._fitted()
        x, m = summary_arrays(frequency, monetary_value=monetary_value)
        return p * (v + x * m) / (p * x + q - 1)

    def population_mean(self) -> float:
        """The mean spend per purchase over all customers, ``p v / (q - 1)``.

        Returns:
            The mean (a float; infinite when ``q <= 1``, where the mean does not exist).
        """
        p, q, v = self._fitted()
        return p * v / (q - 1) if q > 1 else float("inf")

    def _fitted(self) -> tuple[float, float, float]:
        if not hasattr(self, "params_"):
            raise ValidationError(
                "This GammaGamma model is not fitted yet",
                fix="Call fit(frequency, monetary_value) first",
            )
        return self.params_["p"], self.params_["q"], self.params_["v"]


def _negative(value_and_gradient: tuple[float, np.ndarray], n: int) -> tuple[float, np.ndarray]:
    value, gradient = value_and_gradient
    return -value / n, -gradient / n


def _log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> tuple[float, np.ndarray]:
    """Total log-likelihood of the customers' mean spends and its gradient with respect to
    ``log(p, q, v)``. Per customer:
    ``log Gamma(px + q) - log Gamma(px) - log Gamma(q) + q log v + (px - 1) log m + px log x
    - (px + q) log(v + x m)``.
    """
    p, q, v = params
    px = p * x
    log_vxm = np.log(v + x * m)
    psi_all = digamma(px + q)
    value = np.sum(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_vxm
    )
    d_p = np.sum(x * (psi_all - digamma(px) + np.log(m) + np.log(x) - log_vxm))
    d_q = np.sum(psi_all - digamma(q) + np.log(v) - log_vxm)
    d_v = np.sum(q / v - (px + q) / (v + x * m))
    return float(value), params * np.array([d_p, d_q, d_v])
