"""The experiment result: per metric and variant the estimate and its comparison with control,
the sample-ratio check, and the cumulative lift per period; a forest plot and a lift chart."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from journeylens.analysis.base import AnalysisWarning, Result
from journeylens.stats import SrmResult

__all__ = ["ExperimentResult", "ExperimentRow", "LiftPoint"]


@dataclass(frozen=True)
class ExperimentRow:
    """One metric for one variant.

    Attributes:
        metric: the metric's label.
        variant: the variant's name.
        is_control: whether this is the control arm (its comparison fields are None).
        persons: persons in the arm (first exposed to this variant only).
        mean: the arm's estimate: conversion rate (converted persons ÷ persons), mean per
            person (count or revenue ÷ persons; before any CUPED adjustment), or Σ
            numerator ÷ Σ denominator for a ratio.
        lift, lift_low, lift_high: relative lift against control (mean ÷ control mean − 1) and
            its interval (credible, confidence or confidence sequence, per the method).
        difference, difference_low, difference_high: mean − control mean and its interval.
        chance_to_win, risk: P(lift > 0) and the expected relative loss of shipping this
            variant (bayesian only).
        p_value: two-sided (frequentist) or always-valid (sequential) p-value.
        adjusted_p_value: p_value after the spec's multiple-comparison correction across every
            (metric, variant) comparison.
        significant: bayesian: the interval excludes 0; otherwise adjusted_p_value < alpha.
        degenerate: why the comparison is empty (``TOO_FEW_UNITS``, ``ZERO_CONTROL_MEAN``,
            ``ZERO_VARIANCE``), else None.
    """

    metric: str
    variant: str
    is_control: bool
    persons: int
    mean: float
    lift: float | None = None
    lift_low: float | None = None
    lift_high: float | None = None
    difference: float | None = None
    difference_low: float | None = None
    difference_high: float | None = None
    chance_to_win: float | None = None
    risk: float | None = None
    p_value: float | None = None
    adjusted_p_value: float | None = None
    significant: bool | None = None
    degenerate: str | None = None


@dataclass(frozen=True)
class LiftPoint:
    """The cumulative comparison at the end of one period: persons first exposed up to and
    including ``period`` (their metrics measured over the whole data), for one metric and one
    non-control variant; ``lift``, ``lift_low``, ``lift_high`` as in :class:`ExperimentRow`."""

    period: datetime
    metric: str
    variant: str
    persons: int
    lift: float
    lift_low: float
    lift_high: float


@dataclass(frozen=True)
class ExperimentResult(Result):
    """An analysed experiment.

    Attributes:
        experiment_id, method, alpha, correction: as in the spec (method by name).
        control: the control variant (None when nobody was exposed).
        variants: the variants seen, control first.
        rows: one :class:`ExperimentRow` per (metric, variant), metrics in spec order.
        overall: per metric, ``{"metric", "persons", "mean"}`` over every variant pooled.
        srm: the sample-ratio check of persons per variant against the weights (None with
            fewer than two variants).
        excluded_persons: persons exposed to more than one variant, left out everywhere.
        timeline: the cumulative lift per period (:class:`LiftPoint`).
        warnings: codes ``NO_EXPOSURES``, ``ONE_VARIANT``, ``NO_CONTROL``, ``MIXED_EXPOSURE``,
            ``SAMPLE_RATIO_MISMATCH``, ``UNPLANNED_VARIANT``, ``DEGENERATE``.
    """

    experiment_id: str
    method: str
    alpha: float
    correction: str
    control: str | None
    variants: tuple[str, ...]
    rows: tuple[ExperimentRow, ...]
    overall: tuple[dict[str, Any], ...]
    srm: SrmResult | None
    excluded_persons: int
    timeline: tuple[LiftPoint, ...]
    warnings: tuple[AnalysisWarning, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per (metric, variant) with every :class:`ExperimentRow` field."""
        columns = list(ExperimentRow.__dataclass_fields__)
        return pd.DataFrame([asdict(r) for r in self.rows], columns=columns)

    def timeline_frame(self) -> pd.DataFrame:
        """One row per (period, metric, variant) with every :class:`LiftPoint` field."""
        columns = list(LiftPoint.__dataclass_fields__)
        return pd.DataFrame([asdict(p) for p in self.timeline], columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """The attributes as JSON values: ``rows`` and ``timeline`` as lists of objects
        (periods ISO-8601, NaN → None), ``srm`` as its ``to_dict()`` or None, ``warnings``."""
        return {
            "experiment_id": self.experiment_id,
            "method": self.method,
            "alpha": self.alpha,
            "correction": self.correction,
            "control": self.control,
            "variants": list(self.variants),
            "rows": [{k: _json(v) for k, v in asdict(r).items()} for r in self.rows],
            "overall": [{k: _json(v) for k, v in o.items()} for o in self.overall],
            "srm": None if self.srm is None else self.srm.to_dict(),
            "excluded_persons": self.excluded_persons,
            "timeline": [
                {k: (v.isoformat() if k == "period" else _json(v)) for k, v in asdict(p).items()}
                for p in self.timeline
            ],
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """Forest plot: each variant's relative lift per metric with its interval; 0 = no
        change."""
        compared = [r for r in self.rows if not r.is_control and r.lift is not None]
        finite = [r for r in compared if math.isfinite(r.lift or math.nan)]
        fig = go.Figure(
            go.Scatter(
                x=[r.lift for r in finite],
                y=[f"{r.metric} · {r.variant}" for r in finite],
                mode="markers",
                marker={
                    "size": 10,
                    "color": ["#2ca02c" if r.significant else "#7f7f7f" for r in finite],
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [(r.lift_high or 0) - (r.lift or 0) for r in finite],
                    "arrayminus": [(r.lift or 0) - (r.lift_low or 0) for r in finite],
                },
                name="lift",
            )
        )
        fig.add_vline(x=0, line_dash="dash", line_color="#444")
        fig.update_layout(
            title=f"{self.experiment_id}: lift against {self.control} ({self.method})",
            xaxis_title="relative lift",
            xaxis_tickformat=".0%",
            yaxis={"autorange": "reversed"},
        )
        return fig

    def timeline_figure(self) -> go.Figure:
        """Cumulative relative lift per period for each (metric, variant), with its interval
        as a band."""
        fig = go.Figure()
        keys = dict.fromkeys((p.metric, p.variant) for p in self.timeline)
        for metric, variant in keys:
            points = [p for p in self.timeline if (p.metric, p.variant) == (metric, variant)]
            x = [p.period for p in points]
            name = f"{metric} · {variant}"
            fig.add_trace(
                go.Scatter(
                    x=x + x[::-1],
                    y=[_json(p.lift_high) for p in points]
                    + [_json(p.lift_low) for p in points][::-1],
                    fill="toself",
                    opacity=0.2,
                    line={"width": 0},
                    name=f"{name} interval",
                    showlegend=False,
                )
            )
            fig.add_trace(go.Scatter(x=x, y=[_json(p.lift) for p in points], name=name))
        fig.add_hline(y=0, line_dash="dash", line_color="#444")
        fig.update_layout(
            title="Cumulative lift", yaxis_title="relative lift", yaxis_tickformat=".0%"
        )
        return fig


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
