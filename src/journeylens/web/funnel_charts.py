"""The funnel page's two extra charts, drawn from a computed ``FunnelResult``: how long each
step takes to reach, and how conversion moves from one period to the next."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from journeylens.analysis.funnel_result import FunnelResult
from journeylens.web.views import Chart, Table

__all__ = ["conversion_over_time", "time_to_convert"]

_HOUR = 3600.0


def time_to_convert(result: FunnelResult) -> tuple[Chart, Table]:
    """Median and average time from each step to the next, over the units that made the move.

    Returns:
        ``(chart, table)``. The table has one row per step after the first: ``step``
        (1-based), ``name``, ``reached`` (units at the step), ``median_seconds`` and
        ``average_seconds`` (from the previous step, in the best attempt; zero-second gaps
        left out, as the funnel counts them; blank when no gap is left) and the same two in
        hours. The chart shows the hours as bars per step.

    >>> from journeylens.analysis.funnel_result import FunnelStepStats
    >>> steps = (FunnelStepStats("a", 2, 1.0, 1.0, 0, None, None),
    ...          FunnelStepStats("b", 1, 0.5, 0.5, 1, 7200.0, 3600.0))
    >>> time_to_convert(FunnelResult(steps, (), (), "person_id"))[1].frame["median_hours"].tolist()
    [1.0]
    """
    rows = [
        {
            "step": number,
            "name": step.name,
            "reached": step.count,
            "median_seconds": step.median_time_to_convert_seconds,
            "average_seconds": step.avg_time_to_convert_seconds,
        }
        for number, step in enumerate(result.steps, 1)
        if number > 1
    ]
    frame = pd.DataFrame(
        rows, columns=["step", "name", "reached", "median_seconds", "average_seconds"]
    )
    frame["median_seconds"] = frame["median_seconds"].astype("float64")
    frame["average_seconds"] = frame["average_seconds"].astype("float64")
    frame["median_hours"] = frame["median_seconds"] / _HOUR
    frame["average_hours"] = frame["average_seconds"] / _HOUR
    labels = [f"{row.step}. {row.name}" for row in frame.itertuples()]
    figure = go.Figure(
        [
            go.Bar(name="median", x=labels, y=_values(frame["median_hours"])),
            go.Bar(name="average", x=labels, y=_values(frame["average_hours"])),
        ]
    )
    figure.update_layout(
        title="Time to convert from the previous step",
        barmode="group",
        xaxis_title="Step",
        yaxis_title="hours",
    )
    table = Table("time_to_convert", "Time to convert from the previous step", frame)
    return Chart.of("Time to convert", figure), table


def conversion_over_time(result: FunnelResult) -> tuple[Chart, Table]:
    """Conversion of the units whose attempt started in each period (the spec's interval).

    Returns:
        ``(chart, table)``. The table has one row per period: ``period`` (UTC start),
        ``entered`` (units at step 1), ``converted`` (of those, units that reached the last
        step) and ``conversion_rate`` (``converted`` ÷ ``entered``). The chart shows the rate
        as a line over the entered units as bars.
    """
    frame = pd.DataFrame(
        [(p.period, p.entered, p.converted, p.conversion_rate) for p in result.over_time],
        columns=["period", "entered", "converted", "conversion_rate"],
    )
    frame["conversion_rate"] = frame["conversion_rate"].astype("float64")
    periods = [p.period.isoformat() for p in result.over_time]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(go.Bar(name="entered", x=periods, y=list(frame["entered"])))
    figure.add_trace(
        go.Scatter(
            name="conversion rate",
            x=periods,
            y=_values(frame["conversion_rate"]),
            mode="lines+markers",
        ),
        secondary_y=True,
    )
    figure.update_layout(title="Conversion over time", xaxis_title="period of the first step")
    figure.update_yaxes(title_text=f"entered ({result.unit})", secondary_y=False)
    figure.update_yaxes(title_text="conversion rate", tickformat=".0%", secondary_y=True)
    table = Table("over_time", "Conversion by period of the first step", frame)
    return Chart.of("Conversion over time", figure), table


def _values(column: pd.Series) -> list[float | None]:
    """Plain floats with gaps for missing values (NaN is not valid JSON)."""
    return [None if pd.isna(v) else float(v) for v in column]
