"""Customer lifetime value from events: the purchase summary, BG/NBD × Gamma-Gamma, and CLV.

A **customer** is a person with at least one conversion event (default "Order Completed")
before ``as_of``. Their purchases are counted in whole time units (``unit``: "H" hours, "D" days,
"W" weeks starting on Monday, all UTC), as the ``lifetimes`` package does: several purchases in
one unit are one purchase of their summed value. Everything is point in time: events at or after
``as_of`` are invisible, and the observation's last unit is the one holding the last instant
before ``as_of`` (``as_of`` at midnight ends the observation with the previous day).

**CLV** is the discounted value of the purchases expected over a horizon: the horizon is cut
into months of 30 days (720 hours, 30/7 weeks), each month's expected purchases times the
expected spend per purchase is discounted by ``(1 + discount_rate) ** k`` at the end of month
``k`` (a last partial month by its fractional age), the monthly convention of ``lifetimes``'
``customer_lifetime_value``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import ibis
import numpy as np
import pandas as pd

from journeylens.analysis.base import AnalysisWarning
from journeylens.durations import Duration, parse_duration
from journeylens.errors import UnknownNameError, ValidationError
from journeylens.predict.bgnbd import ArrayLike, BetaGeo
from journeylens.predict.cutoff import check_as_of
from journeylens.predict.gamma_gamma import GammaGamma

__all__ = [
    "SUMMARY_COLUMNS",
    "Unit",
    "clv_summary",
    "customer_lifetime_value",
    "predict_clv",
    "purchase_periods",
    "unit_end",
]

Unit = Literal["H", "D", "W"]
_UNIT_SECONDS = {"H": 3600, "D": 86_400, "W": 7 * 86_400}
# Periods are counted from an origin on a period boundary: 1970-01-05 is a Monday.
_UNIT_ORIGIN = {"H": 0, "D": 0, "W": 4 * 86_400}
_UNIT_NAME = {"H": "hours", "D": "days", "W": "weeks"}
_MONTH_SECONDS = 30 * 86_400

#: Columns of :func:`clv_summary` and their dtypes.
SUMMARY_COLUMNS = {
    "person_id": object,
    "frequency": "int64",
    "recency": "float64",
    "T": "float64",
    "monetary_value": "float64",
}
_PREDICTION_COLUMNS = {
    "person_id": object,
    "p_alive": "float64",
    "expected_purchases": "float64",
    "expected_value": "float64",
    "clv": "float64",
    "reasons": object,
}


def clv_summary(
    events: ibis.Table,
    *,
    as_of: datetime,
    conversion: str = "Order Completed",
    value: str = "revenue",
    unit: Unit = "D",
) -> pd.DataFrame:
    """Per customer, the frequency/recency/T/monetary summary the BG/NBD and Gamma-Gamma models
    read, as of a cut-off.

    Returns:
        One row per customer, sorted by ``person_id``: ``person_id``; ``frequency`` (units with a
        purchase after the first one's unit); ``recency`` (units from the first purchase's unit
        to the latest's; 0 without repeat purchases); ``T`` (units from the first purchase's
        unit to the observation's last unit); ``monetary_value`` (mean over the repeat-purchase
        units of the ``value`` summed within a unit, a missing value counting 0; 0 without
        repeat purchases). Empty (with these columns) when nobody converted before ``as_of``.

    >>> ev = ibis.memtable({"person_id": ["a", "a", "a", "b"], "event": ["Order Completed"] * 4,
    ...     "timestamp": ["2024-01-01 09:00", "2024-01-03 10:00", "2024-01-03 18:00",
    ...                   "2024-01-05 12:00"], "revenue": [10.0, 5.0, 7.0, 3.0]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> clv_summary(ev, as_of=datetime(2024, 1, 11, tzinfo=UTC)).values.tolist()
    [['a', 1, 2.0, 9.0, 12.0], ['b', 0, 0.0, 5.0, 0.0]]
    """
    moment = check_as_of(as_of)
    periods = purchase_periods(events, as_of=moment, conversion=conversion, value=value, unit=unit)
    first = periods.period.min().over(group_by=periods.person_id)
    periods = periods.mutate(first=first)
    repeat = periods.period > periods.first
    per = periods.group_by("person_id").aggregate(
        first=periods.first.min(),
        last=periods.period.max(),
        units=periods.count(),
        repeat_amount=repeat.ifelse(periods.amount, 0.0).sum(),
    )
    table = per.execute()
    if table.empty:
        return _empty(SUMMARY_COLUMNS)
    frequency = table.units.to_numpy(dtype="int64") - 1
    summary = pd.DataFrame(
        {
            "person_id": table.person_id.astype(object),
            "frequency": frequency,
            "recency": (table["last"] - table["first"]).to_numpy(dtype="float64"),
            "T": (unit_end(moment, unit) - table["first"]).to_numpy(dtype="float64"),
            "monetary_value": np.where(
                frequency > 0, table.repeat_amount.to_numpy(dtype="float64"), 0.0
            )
            / np.maximum(frequency, 1),
        }
    )
    return summary.sort_values("person_id").reset_index(drop=True).astype(SUMMARY_COLUMNS)


def purchase_periods(
    events: ibis.Table, *, as_of: datetime, conversion: str, value: str, unit: Unit
) -> ibis.Table:
    """The engine-side table of purchase units: one row per person and unit with a conversion
    before ``as_of``.

    Returns:
        An Ibis table: ``person_id``; ``period`` (the unit's number, counted from the epoch);
        ``amount`` (the summed ``value`` of the unit's conversions, missing values as 0).
    """
    _check_unit(unit)
    if value not in events.columns:
        raise UnknownNameError("value column", value, _numeric_columns(events))
    if not events[value].type().is_numeric():
        raise ValidationError(
            f"The value column {value!r} is not numeric",
            received=str(events[value].type()),
            allowed=", ".join(_numeric_columns(events)) or "(none)",
        )
    if not isinstance(conversion, str) or not conversion:
        raise ValidationError("conversion must be an event name", received=conversion)
    moment = ibis.literal(check_as_of(as_of), type="timestamp('UTC')")
    bought = events.filter(
        events.person_id.notnull() & (events.event == conversion) & (events.timestamp < moment)
    )
    seconds = bought.timestamp.epoch_seconds() - _UNIT_ORIGIN[unit]
    bought = bought.mutate(
        period=(seconds // _UNIT_SECONDS[unit]).cast("int64"),
        amount=bought[value].cast("float64").fill_null(0.0),
    )
    return bought.group_by(["person_id", "period"]).aggregate(amount=bought.amount.sum())


def unit_end(as_of: datetime, unit: Unit) -> int:
    """The number of the observation's last unit: the unit of the last instant before ``as_of``.

    Returns:
        The unit's number, counted from the epoch as :func:`purchase_periods` counts.

    >>> unit_end(datetime(2024, 1, 2, tzinfo=UTC), "D") == unit_end(datetime(2024, 1, 1, 23,
    ...     tzinfo=UTC), "D")
    True
    """
    _check_unit(unit)
    micros = (check_as_of(as_of) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return (micros - 1 - _UNIT_ORIGIN[unit] * 10**6) // (_UNIT_SECONDS[unit] * 10**6)


def customer_lifetime_value(
    beta_geo: BetaGeo,
    gamma_gamma: GammaGamma,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,  # noqa: N803 (the model's name for it)
    monetary_value: ArrayLike,
    *,
    horizon: Duration = "360d",
    discount_rate: float = 0.01,
    unit: Unit = "D",
) -> np.ndarray:
    """The discounted value of each customer's expected purchases over ``horizon``.

    Month ``k`` (30 days) contributes ``(E[purchases by month k] - E[purchases by month k - 1])
    * E[spend per purchase] / (1 + discount_rate) ** k``; a last partial month is discounted by
    its fractional age. ``discount_rate`` is monthly (0.01 = 1% a month).

    Returns:
        One CLV per customer (a float array, in the unit of ``monetary_value``).

    >>> bg = BetaGeo().fit([0, 1, 2, 0, 4, 1], [0, 5, 20, 0, 30, 2], [30, 30, 35, 25, 40, 38])
    >>> gg = GammaGamma().fit([1, 2, 4, 1], [20.0, 35.0, 28.0, 12.0])
    >>> customer_lifetime_value(bg, gg, [0, 4], [0, 30], [30, 40], [0, 30.0]).round(1).tolist()
    [157.7, 458.5]
    """
    spend = gamma_gamma.conditional_expected_average_profit(frequency, monetary_value)
    return spend * _discounted_purchases(
        beta_geo, frequency, recency, T, horizon=horizon, discount_rate=discount_rate, unit=unit
    )


def _discounted_purchases(
    beta_geo: BetaGeo,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,  # noqa: N803 (the model's name for it)
    *,
    horizon: Duration,
    discount_rate: float,
    unit: Unit,
) -> np.ndarray:
    # A customer's expected spend per purchase does not change over time, so CLV is that spend
    # times this discounted count of purchases.
    _check_unit(unit)
    rate = _discount(discount_rate)
    month = _MONTH_SECONDS / _UNIT_SECONDS[unit]
    months = parse_duration(horizon, field="horizon").total_seconds() / _MONTH_SECONDS
    total: np.ndarray | float = 0.0
    before: np.ndarray | float = 0.0
    for k in range(1, math.ceil(months - 1e-9) + 1):
        age = min(k, months)
        upto = beta_geo.conditional_expected_purchases(age * month, frequency, recency, T)
        total = total + (upto - before) / (1 + rate) ** age
        before = upto
    return np.asarray(total, dtype="float64")


def predict_clv(
    events: ibis.Table,
    *,
    as_of: datetime,
    horizon: Duration = "90d",
    discount_rate: float = 0.01,
    conversion: str = "Order Completed",
    value: str = "revenue",
    unit: Unit = "D",
    beta_geo: BetaGeo | None = None,
    gamma_gamma: GammaGamma | None = None,
) -> pd.DataFrame:
    """P(alive), expected purchases, expected value and CLV of every customer as of a cut-off.

    The models are fitted on the :func:`clv_summary` at ``as_of`` unless fitted ones are given
    (BG/NBD on every customer, Gamma-Gamma on those with repeat purchases of positive value).

    Returns:
        One row per customer, sorted by ``person_id``: ``person_id``; ``p_alive`` (probability
        the customer has not left); ``expected_purchases`` (expected purchases in ``horizon``);
        ``expected_value`` (``expected_purchases`` × expected spend per purchase, undiscounted);
        ``clv`` (the same, discounted monthly at ``discount_rate``, see
        :func:`customer_lifetime_value`); ``reasons`` (three dicts ``{"feature", "value",
        "contribution", "detail"}``, largest effect first: ``p_alive``; ``purchase_rate``
        (discounted expected purchases if alive); ``average_spend`` (expected spend per
        purchase). Each ``contribution`` is the natural log of the factor over its value for a
        new customer of average spend, so they add up to ``log(clv / clv of that customer)``;
        null for ``average_spend`` when the population mean spend does not exist).
        Empty when there is nothing to fit; ``frame.attrs["warnings"]`` then lists why
        (``{"code", "message"}``: ``NO_CUSTOMERS``, ``NO_REPEAT_CUSTOMERS``), and holds
        ``SPEND_MEAN_UNDEFINED`` when the fitted ``q <= 1`` leaves customers without repeat
        purchases with no expected spend (their value and CLV are NaN).

    >>> ev = ibis.memtable({"person_id": ["a", "a", "b", "b", "c"], "event": ["Order Completed"]
    ...     * 5, "timestamp": ["2024-01-01", "2024-01-20", "2024-01-02", "2024-01-05",
    ...     "2024-01-10"], "revenue": [10.0, 30.0, 5.0, 9.0, 4.0]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> out = predict_clv(ev, as_of=datetime(2024, 2, 1, tzinfo=UTC))
    >>> out.columns.tolist()
    ['person_id', 'p_alive', 'expected_purchases', 'expected_value', 'clv', 'reasons']
    >>> out.reasons[0][0]["feature"]
    'p_alive'
    """
    summary = clv_summary(events, as_of=as_of, conversion=conversion, value=value, unit=unit)
    warnings: list[AnalysisWarning] = []
    if summary.empty:
        warnings.append(_warn("NO_CUSTOMERS", f"Nobody has a {conversion!r} event before as_of."))
        return _with_warnings(_empty(_PREDICTION_COLUMNS), warnings)
    x, t_x, big_t, m = (summary[c].to_numpy(dtype="float64") for c in list(SUMMARY_COLUMNS)[1:])
    spenders = (x > 0) & (m > 0)
    if (beta_geo is None and not np.any(x > 0)) or (gamma_gamma is None and not np.any(spenders)):
        warnings.append(
            _warn(
                "NO_REPEAT_CUSTOMERS",
                "No customer has a repeat purchase with a value before as_of: the purchase "
                "and spend models cannot be fitted.",
            )
        )
        return _with_warnings(_empty(_PREDICTION_COLUMNS), warnings)
    beta_geo = beta_geo or BetaGeo().fit(x, t_x, big_t)
    gamma_gamma = gamma_gamma or GammaGamma().fit(x[spenders], m[spenders])

    p_alive = beta_geo.conditional_probability_alive(x, t_x, big_t)
    length = parse_duration(horizon, field="horizon").total_seconds() / _UNIT_SECONDS[unit]
    expected = beta_geo.conditional_expected_purchases(length, x, t_x, big_t)
    spend = gamma_gamma.conditional_expected_average_profit(x, m)
    mean_spend = gamma_gamma.population_mean()
    if not math.isfinite(mean_spend):
        spend = np.where(x > 0, spend, np.nan)
        warnings.append(
            _warn(
                "SPEND_MEAN_UNDEFINED",
                "The fitted spend model has no population mean (q <= 1): customers without "
                "repeat purchases get no expected value or CLV.",
            )
        )
    kwargs: dict[str, Any] = {"horizon": horizon, "discount_rate": discount_rate, "unit": unit}
    purchases = _discounted_purchases(beta_geo, x, t_x, big_t, **kwargs)
    newcomer = float(_discounted_purchases(beta_geo, [0], [0], [0], **kwargs)[0])
    frame = pd.DataFrame(
        {
            "person_id": summary.person_id,
            "p_alive": p_alive,
            "expected_purchases": expected,
            "expected_value": expected * spend,
            "clv": purchases * spend,
            "reasons": _reasons(
                summary, p_alive, purchases / p_alive, newcomer, spend, mean_spend, unit
            ),
        }
    )
    return _with_warnings(frame.astype(_PREDICTION_COLUMNS), warnings)


def _reasons(
    summary: pd.DataFrame,
    p_alive: np.ndarray,
    if_alive: np.ndarray,
    newcomer: float,
    spend: np.ndarray,
    mean_spend: float,
    unit: Unit,
) -> list[list[dict[str, Any]]]:
    name = _UNIT_NAME[unit]
    rows = []
    for i, row in enumerate(summary.itertuples(index=False)):
        gap = row.T - row.recency
        history = (
            f"{row.frequency} repeat purchases, the latest {gap:g} {name} before as_of"
            if row.frequency
            else f"no repeat purchase in {row.T:g} {name}"
        )
        spend_effect = (
            math.log(spend[i] / mean_spend)
            if math.isfinite(mean_spend) and math.isfinite(spend[i])
            else None
        )
        reasons = [
            _reason("p_alive", p_alive[i], math.log(p_alive[i]), history),
            _reason(
                "purchase_rate",
                if_alive[i],
                math.log(if_alive[i] / newcomer),
                f"discounted purchases expected if still a customer (a new customer: "
                f"{newcomer:.3g})",
            ),
            _reason(
                "average_spend",
                spend[i],
                spend_effect,
                f"expected spend per purchase from {row.frequency} repeat purchases averaging "
                f"{row.monetary_value:.2f} (all customers: {mean_spend:.2f})",
            ),
        ]
        reasons.sort(key=lambda r: -abs(r["contribution"] or 0.0))
        rows.append(reasons)
    return rows


def _reason(feature: str, value: float, contribution: float | None, detail: str) -> dict[str, Any]:
    value = float(value)
    return {
        "feature": feature,
        "value": round(value, 6) if math.isfinite(value) else None,
        "contribution": None if contribution is None else round(contribution, 6),
        "detail": detail,
    }


def _check_unit(unit: str) -> None:
    if unit not in _UNIT_SECONDS:
        raise UnknownNameError("time unit", str(unit), get_args(Unit))


def _discount(rate: float) -> float:
    if not isinstance(rate, int | float) or not math.isfinite(rate) or rate < 0:
        raise ValidationError(
            "discount_rate must be a finite number >= 0",
            received=rate,
            allowed="a monthly rate, e.g. 0.01 for 1% a month",
        )
    return float(rate)


def _numeric_columns(events: ibis.Table) -> list[str]:
    return [name for name, kind in events.schema().items() if kind.is_numeric()]


def _warn(code: str, message: str) -> AnalysisWarning:
    return AnalysisWarning(code, message)


def _with_warnings(frame: pd.DataFrame, warnings: list[AnalysisWarning]) -> pd.DataFrame:
    frame.attrs["warnings"] = [w.to_dict() for w in warnings]
    return frame


def _empty(columns: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=kind) for name, kind in columns.items()})
