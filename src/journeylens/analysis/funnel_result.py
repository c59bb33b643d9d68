"""What a funnel gives back: per-step counts, rates and times, per breakdown value and per
period, as plain values with a table, a JSON document and a bar chart drawn from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from journeylens.analysis.base import AnalysisWarning, Result

__all__ = ["FunnelBreakdownRow", "FunnelPeriod", "FunnelResult", "FunnelStepStats"]


@dataclass(frozen=True)
class FunnelStepStats:
    """One step of a funnel (or of one breakdown value).

    ``count``: units that reached the step. ``conversion_rate``: count / count at step 1.
    ``step_conversion_rate``: count / count at the previous step (1.0 at step 1).
    ``drop_off``: count at the previous step − count (0 at step 1).
    ``avg_time_to_convert_seconds`` / ``median_time_to_convert_seconds``: time from the
    previous step to this one in the best attempt of the units that reached it, leaving out
    zero-second gaps as PostHog does (None at step 1 or when no gap is left). Rates are None
    when their denominator is zero.
    """

    name: str
    count: int
    conversion_rate: float | None
    step_conversion_rate: float | None
    drop_off: int
    avg_time_to_convert_seconds: float | None
    median_time_to_convert_seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values."""
        return {
            "name": self.name,
            "count": self.count,
            "conversion_rate": self.conversion_rate,
            "step_conversion_rate": self.step_conversion_rate,
            "drop_off": self.drop_off,
            "avg_time_to_convert_seconds": self.avg_time_to_convert_seconds,
            "median_time_to_convert_seconds": self.median_time_to_convert_seconds,
        }


@dataclass(frozen=True)
class FunnelBreakdownRow:
    """The funnel of one breakdown value (``None``: units without the property; ``"Other"``:
    the values past the limit)."""

    value: str | None
    steps: tuple[FunnelStepStats, ...]


@dataclass(frozen=True)
class FunnelPeriod:
    """Conversion of the units whose best attempt started in ``period`` (UTC start).

    ``entered``: units at step 1; ``converted``: units that reached the last step;
    ``conversion_rate``: converted / entered.
    """

    period: datetime
    entered: int
    converted: int
    conversion_rate: float | None


@dataclass(frozen=True)
class FunnelResult(Result):
    """A computed funnel: values, not live expressions.

    ``steps``: one :class:`FunnelStepStats` per step over every unit; ``breakdowns``: one
    :class:`FunnelBreakdownRow` per breakdown value, most converting first (empty without a
    breakdown); ``over_time``: one :class:`FunnelPeriod` per ``interval`` bucket of the first
    step; ``unit``: what was counted (``person_id``, ``session_id`` or the property).
    """

    steps: tuple[FunnelStepStats, ...]
    breakdowns: tuple[FunnelBreakdownRow, ...]
    over_time: tuple[FunnelPeriod, ...]
    unit: str
    warnings: tuple[AnalysisWarning, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per (breakdown value, step): ``breakdown`` (None without a breakdown),
        ``step`` (1-based) and the :class:`FunnelStepStats` fields."""
        rows = [{"breakdown": None, "step": i, **s.to_dict()} for i, s in enumerate(self.steps, 1)]
        if self.breakdowns:
            rows = [
                {"breakdown": b.value, "step": i, **s.to_dict()}
                for b in self.breakdowns
                for i, s in enumerate(b.steps, 1)
            ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """``steps``, ``breakdowns`` (``[{value, steps}]``), ``over_time`` (``[{period
        (ISO-8601), entered, converted, conversion_rate}]``), ``unit`` and ``warnings``."""
        return {
            "steps": [s.to_dict() for s in self.steps],
            "breakdowns": [
                {"value": b.value, "steps": [s.to_dict() for s in b.steps]} for b in self.breakdowns
            ],
            "over_time": [
                {
                    "period": p.period.isoformat(),
                    "entered": p.entered,
                    "converted": p.converted,
                    "conversion_rate": p.conversion_rate,
                }
                for p in self.over_time
            ],
            "unit": self.unit,
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """Bars of units per step, one trace per breakdown value when there is a breakdown."""
        fig = go.Figure()
        rows = self.breakdowns or (FunnelBreakdownRow(None, self.steps),)
        for row in rows:
            fig.add_trace(
                go.Bar(
                    name=str(row.value) if self.breakdowns else "All",
                    x=[s.name for s in row.steps],
                    y=[s.count for s in row.steps],
                    text=[_percent(s.conversion_rate) for s in row.steps],
                )
            )
        fig.update_layout(
            title="Funnel",
            barmode="group",
            xaxis_title="Step",
            yaxis_title=f"Units ({self.unit})",
            showlegend=bool(self.breakdowns),
        )
        return fig


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.1%}"
