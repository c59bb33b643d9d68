"""How well the CLV models predict: fit on a calibration period, compare with a holdout.

The calibration period ends ``holdout`` before ``as_of``; the models are fitted on the
:func:`~journeylens.predict.clv.clv_summary` at that cut-off, and each calibration customer's
expected purchases over the holdout are set beside the purchases they really made (units with a
conversion after the calibration's last unit and before ``as_of``), grouped by how many repeat
purchases they had made in calibration: the check of Fader, Hardie and Lee's figure 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from journeylens.analysis.base import AnalysisWarning, Result
from journeylens.analysis.path_cleaning import json_value
from journeylens.durations import Duration, parse_duration
from journeylens.predict.bgnbd import BetaGeo
from journeylens.predict.clv import Unit, clv_summary, purchase_periods, unit_end
from journeylens.predict.cutoff import check_as_of
from journeylens.predict.gamma_gamma import GammaGamma

__all__ = ["ClvReport", "clv_report"]

_BY_FREQUENCY = {
    "frequency": "int64",
    "customers": "int64",
    "actual": "float64",
    "expected": "float64",
}


@dataclass(frozen=True)
class ClvReport(Result):
    """Fitted CLV models and their holdout check (see :func:`clv_report`)."""

    as_of: datetime
    calibration_end: datetime
    unit: str
    holdout_units: int
    customers: int
    repeat_customers: int
    beta_geo: dict[str, float] | None
    gamma_gamma: dict[str, float] | None
    log_likelihood: dict[str, float | None]
    by_frequency: pd.DataFrame
    max_frequency: int
    warnings: tuple[AnalysisWarning, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """The holdout check by calibration frequency (see ``by_frequency`` in
        :func:`clv_report`)."""
        return self.by_frequency.copy()

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON values; ``by_frequency`` as rows, plus ``actual_total`` and
        ``expected_total`` (holdout purchases over all calibration customers); NaN → None."""
        table = self.by_frequency
        weights = table.customers.to_numpy(dtype="float64")
        return {
            "as_of": self.as_of.isoformat(),
            "calibration_end": self.calibration_end.isoformat(),
            "unit": self.unit,
            "holdout_units": self.holdout_units,
            "customers": self.customers,
            "repeat_customers": self.repeat_customers,
            "beta_geo": self.beta_geo,
            "gamma_gamma": self.gamma_gamma,
            "log_likelihood": self.log_likelihood,
            "max_frequency": self.max_frequency,
            "by_frequency": [
                {k: json_value(v) for k, v in row.items()} for row in table.to_dict("records")
            ],
            "actual_total": json_value(float(np.sum(weights * table.actual.to_numpy()))),
            "expected_total": json_value(float(np.sum(weights * table.expected.to_numpy()))),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """Mean holdout purchases per customer, actual beside expected, by calibration
        frequency."""
        table = self.by_frequency
        labels = [f"{f}+" if f == self.max_frequency else str(f) for f in table.frequency.tolist()]
        fig = go.Figure(
            [
                go.Bar(name="actual", x=labels, y=table.actual.tolist()),
                go.Bar(name="expected (BG/NBD)", x=labels, y=table.expected.tolist()),
            ]
        )
        fig.update_layout(
            barmode="group",
            title=f"Purchases in the {self.holdout_units}-{self.unit} holdout per customer",
            xaxis_title="repeat purchases in calibration",
            yaxis_title="mean purchases in holdout",
        )
        return fig


def clv_report(
    events: ibis.Table,
    *,
    as_of: datetime,
    holdout: Duration = "90d",
    conversion: str = "Order Completed",
    value: str = "revenue",
    unit: Unit = "D",
    max_frequency: int = 7,
) -> ClvReport:
    """Fit BG/NBD and Gamma-Gamma on the period before ``as_of - holdout`` and check the
    purchase predictions on the holdout.

    Returns:
        ClvReport: ``as_of``; ``calibration_end`` (``as_of - holdout``); ``unit``;
        ``holdout_units`` (whole units from the calibration's last unit to the observation's);
        ``customers`` (persons with a conversion before ``calibration_end``); ``repeat_customers``
        (those with frequency > 0); ``beta_geo`` (``r, alpha, a, b``) and ``gamma_gamma``
        (``p, q, v``) parameters, None when not fitted; ``log_likelihood`` (``beta_geo``,
        ``gamma_gamma``: totals at the fitted parameters); ``by_frequency``: one row per
        calibration frequency 0 … ``max_frequency`` (the last row is "that many or more"):
        ``frequency``, ``customers``, ``actual`` and ``expected`` (mean holdout purchases per
        customer of the row: the denominator is ``customers``). Warnings: ``NO_CUSTOMERS``,
        ``NO_REPEAT_CUSTOMERS`` (nothing fitted), ``NO_SPEND`` (no spend model).

    >>> from datetime import UTC
    >>> ev = ibis.memtable({"person_id": list("aaabbc"), "event": ["Order Completed"] * 6,
    ...     "timestamp": ["2024-01-01", "2024-01-20", "2024-03-01", "2024-01-02", "2024-01-05",
    ...     "2024-01-10"], "revenue": [10.0, 30.0, 20.0, 5.0, 9.0, 4.0]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> report = clv_report(ev, as_of=datetime(2024, 4, 1, tzinfo=UTC), holdout="60d")
    >>> table = report.to_frame()
    >>> table.frequency.tolist(), table.customers.tolist(), table.actual.tolist()
    ([0, 1], [1, 2], [0.0, 0.5])
    """
    moment = check_as_of(as_of)
    calibration_end = moment - parse_duration(holdout, field="holdout")
    summary = clv_summary(
        events, as_of=calibration_end, conversion=conversion, value=value, unit=unit
    )
    calibration_last = unit_end(calibration_end, unit)
    holdout_units = unit_end(moment, unit) - calibration_last
    base = {
        "as_of": moment,
        "calibration_end": calibration_end,
        "unit": unit,
        "holdout_units": holdout_units,
        "customers": len(summary),
        "repeat_customers": int((summary.frequency > 0).sum()),
        "max_frequency": max_frequency,
    }
    if summary.empty or not (summary.frequency > 0).any():
        code, what = (
            ("NO_CUSTOMERS", "Nobody converted")
            if summary.empty
            else ("NO_REPEAT_CUSTOMERS", "Nobody made a repeat purchase")
        )
        message = f"{what} before the calibration end: there is no model to check."
        return ClvReport(
            **base,
            beta_geo=None,
            gamma_gamma=None,
            log_likelihood={"beta_geo": None, "gamma_gamma": None},
            by_frequency=pd.DataFrame(
                {k: pd.Series([], dtype=v) for k, v in _BY_FREQUENCY.items()}
            ),
            warnings=(AnalysisWarning(code, message),),
        )
    x, t_x, big_t, m = (summary[c].to_numpy(dtype="float64") for c in summary.columns[1:])
    beta_geo = BetaGeo().fit(x, t_x, big_t)
    spenders = (x > 0) & (m > 0)
    gamma_gamma = GammaGamma().fit(x[spenders], m[spenders]) if spenders.any() else None
    warnings = (
        ()
        if gamma_gamma
        else (AnalysisWarning("NO_SPEND", "No repeat purchase has a value: no spend model."),)
    )

    periods = purchase_periods(events, as_of=moment, conversion=conversion, value=value, unit=unit)
    later = periods.filter(periods.period > calibration_last)
    actual = later.group_by("person_id").aggregate(actual=later.count()).execute()
    summary = summary.merge(actual, on="person_id", how="left")
    summary["actual"] = summary.actual.fillna(0).astype("float64")
    summary["expected"] = beta_geo.conditional_expected_purchases(holdout_units, x, t_x, big_t)
    summary["frequency"] = summary.frequency.clip(upper=max_frequency)
    table = summary.groupby("frequency").agg(
        customers=("person_id", "size"), actual=("actual", "mean"), expected=("expected", "mean")
    )
    table = table.reset_index().astype(_BY_FREQUENCY)
    return ClvReport(
        **base,
        beta_geo=beta_geo.params_,
        gamma_gamma=gamma_gamma.params_ if gamma_gamma else None,
        log_likelihood={
            "beta_geo": beta_geo.log_likelihood_,
            "gamma_gamma": gamma_gamma.log_likelihood_ if gamma_gamma else None,
        },
        by_frequency=table,
        warnings=warnings,
    )
