"""Trends: a metric of chosen events per period, per breakdown value, against the range before.

- **Series**: each one selects events (an :class:`EventMatch`) and a ``math``: ``total``
  (events), ``persons`` (distinct persons), or ``sum`` / ``avg`` / ``min`` / ``max`` /
  ``median`` of a numeric ``property`` (an events column such as ``revenue``, or a
  ``properties`` key or dotted JSON path; text that is not a number is ignored).
- **Periods** are UTC calendar hours, days, Monday-first weeks or months; the range is whole
  periods from ``date_from``'s to ``date_to``'s, by default the first and last event any series
  matches. Every period is reported: counts and sums are 0 where nothing happened; ``avg``,
  ``min``, ``max`` and ``median`` are ``None`` there, as there is nothing to average.
- **Breakdown** by an event, person or group property: the ``limit`` values with the most
  matching events in the range (ties by value) get a line each; the rest are summed into
  ``"Other"`` (the metric is recomputed over their events, so ``persons`` stays distinct; a
  real value spelled "Other" shares that line).
  Events without the property form their own line, with value ``None``.
- **Compare** adds the same metric over the range just before, of as many periods, aligned by
  offset: period ``i`` of the range is compared with period ``i`` of the previous range.

Only rows with a ``person_id`` count (rows without one are not persons).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Self

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go
from pydantic import BeforeValidator, Field, model_validator

from journeylens.analysis.base import AnalysisWarning, Interval, Result, Spec
from journeylens.analysis.event_match import EventMatch, matched_events
from journeylens.analysis.periods import (
    DateRangeSpec,
    in_periods,
    period_number,
    period_range,
    start_of,
)
from journeylens.analysis.properties import PropertySource, with_property
from journeylens.analysis.registry import Analysis, register

__all__ = [
    "OTHER",
    "TrendLine",
    "TrendsBreakdown",
    "TrendsResult",
    "TrendsSeries",
    "TrendsSpec",
    "trends",
]

#: The breakdown value that stands for every value beyond the limit.
OTHER = "Other"
Math = Literal["total", "persons", "sum", "avg", "min", "max", "median"]
_COUNTS = ("total", "persons")
# Stands for "property not set" inside the engine, where a null key would not join.
_UNSET = "__jl_unset__"


class TrendsSeries(EventMatch):
    """One line: the events (``event``, ``where``), the ``math`` and, for ``sum``, ``avg``,
    ``min``, ``max`` and ``median``, the numeric ``property``; ``label`` names the line.

    >>> TrendsSeries(event="Order Completed", math="sum", property="revenue").title
    'Order Completed · sum of revenue'
    """

    # Defined before the fields: the field named ``property`` hides the builtin below it.
    @property
    def title(self) -> str:
        """``label``, or a name made from the events and the math."""
        if self.label:
            return self.label
        events = super().title
        if self.math == "total":
            return events
        what = "persons" if self.math == "persons" else f"{self.math} of {self.property}"
        return f"{events} · {what}"

    math: Math = "total"
    property: str | None = None
    label: str | None = None

    @model_validator(mode="after")
    def _property_fits_math(self) -> Self:
        if self.math in _COUNTS and self.property is not None:
            raise ValueError(f"math {self.math!r} counts events or persons; remove 'property'")
        if self.math not in _COUNTS and not (self.property and self.property.strip()):
            raise ValueError(f"math {self.math!r} needs 'property', e.g. 'revenue'")
        return self


def _series(value: Any) -> Any:
    return {"event": value} if isinstance(value, str) else value


class TrendsBreakdown(Spec):
    """Split every series by the value of ``property`` read from ``source``; the ``limit``
    most frequent values get a line each, the rest go to ``"Other"``."""

    property: str = Field(min_length=1)
    source: PropertySource = "event"
    limit: int = Field(default=25, ge=1, le=1000)


def _breakdown(value: Any) -> Any:
    return {"property": value} if isinstance(value, str) else value


class TrendsSpec(DateRangeSpec):
    """What to chart (see the module docstring for the exact rules).

    >>> TrendsSpec(series=["Order Completed"], interval="week").series[0].math
    'total'
    """

    series: list[Annotated[TrendsSeries, BeforeValidator(_series)]] = Field(min_length=1)
    interval: Interval = "day"
    breakdown: Annotated[TrendsBreakdown | None, BeforeValidator(_breakdown)] = None
    compare: bool = False


@dataclass(frozen=True)
class TrendLine:
    """One line of the chart.

    Attributes:
        series: position of the series in the spec; ``title``: its name; ``math``: its math.
        breakdown_value: the breakdown value, ``"Other"``, or ``None`` (property not set, or no
            breakdown asked for).
        compare: ``"current"`` (the range) or ``"previous"`` (the range before it).
        values: the metric per period, aligned with ``TrendsResult.periods`` (or
            ``previous_periods``); 0 for counts and sums where nothing happened, ``None`` for
            ``avg``/``min``/``max``/``median`` there.
    """

    series: int
    title: str
    math: str
    breakdown_value: str | None
    compare: str
    values: tuple[float | int | None, ...]


@dataclass(frozen=True)
class TrendsResult(Result):
    """The lines of a trends chart.

    Attributes:
        interval: as in the spec.
        periods: start (UTC) of every period of the range, oldest first.
        previous_periods: starts of the periods of the range before (empty without compare).
        breakdown: the breakdown property, or ``None``.
        lines: every (series, breakdown value, compare) line; breakdown values in order of
            matching events, most first, ``"Other"`` last.
        warnings: code ``NO_EVENTS`` when no event matches any series in the range.
    """

    interval: Interval
    periods: tuple[datetime, ...]
    previous_periods: tuple[datetime, ...]
    breakdown: str | None
    lines: tuple[TrendLine, ...]
    warnings: tuple[AnalysisWarning, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per line and period: ``series`` (index), ``title``, ``math``,
        ``breakdown_value``, ``compare``, ``offset`` (0 = first period of its range),
        ``period`` (start, UTC) and ``value``."""
        rows = [
            (
                line.series,
                line.title,
                line.math,
                line.breakdown_value,
                line.compare,
                offset,
                period,
                value,
            )
            for line in self.lines
            for offset, (period, value) in enumerate(
                zip(self._periods(line), line.values, strict=True)
            )
        ]
        names = ["series", "title", "math", "breakdown_value", "compare", "offset", "period"]
        return pd.DataFrame(rows, columns=[*names, "value"]).astype({"value": "float64"})

    def to_dict(self) -> dict[str, Any]:
        """``interval``, ``periods`` and ``previous_periods`` (ISO-8601), ``breakdown``;
        ``lines``: a list of ``{series, title, math, breakdown_value, compare, values}``;
        ``warnings``."""
        return {
            "interval": self.interval,
            "periods": [p.isoformat() for p in self.periods],
            "previous_periods": [p.isoformat() for p in self.previous_periods],
            "breakdown": self.breakdown,
            "lines": [
                {
                    "series": line.series,
                    "title": line.title,
                    "math": line.math,
                    "breakdown_value": line.breakdown_value,
                    "compare": line.compare,
                    "values": list(line.values),
                }
                for line in self.lines
            ],
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """One line per series and breakdown value over the range's periods; the previous
        range is drawn dashed at the same offsets."""
        fig = go.Figure()
        for line in self.lines:
            name = line.title
            if self.breakdown is not None:
                value = line.breakdown_value
                name += f" · {value if value is not None else '(not set)'}"
            previous = line.compare == "previous"
            fig.add_trace(
                go.Scatter(
                    x=list(self.periods),
                    y=list(line.values),
                    mode="lines+markers",
                    name=f"{name} (previous)" if previous else name,
                    line={"dash": "dash"} if previous else {},
                )
            )
        fig.update_layout(title="Trends", xaxis_title=self.interval, yaxis_title="value")
        return fig

    def _periods(self, line: TrendLine) -> tuple[datetime, ...]:
        return self.previous_periods if line.compare == "previous" else self.periods


def trends(events: ibis.Table, spec: TrendsSpec) -> TrendsResult:
    """A metric of each series per period, optionally per breakdown value and against the
    previous range.

    Returns:
        A :class:`TrendsResult`. ``total`` counts events, ``persons`` distinct persons per
        period (and breakdown value); ``sum``/``avg``/``min``/``max``/``median`` are over the
        numeric property values of the period's events (``avg`` divides by the events that
        have the property). There are no rates.

    >>> t = ibis.memtable({"person_id": ["a", "a", "b"], "type": ["track"] * 3,
    ...     "event": ["buy"] * 3, "revenue": [5.0, 7.0, 1.0], "properties": [None] * 3,
    ...     "timestamp": ["2024-01-01 09:00", "2024-01-01 10:00", "2024-01-03 10:00"]})
    >>> t = t.cast({"timestamp": "timestamp('UTC')", "properties": "json"})
    >>> trends(t, TrendsSpec(series=[{"event": "buy", "math": "sum", "property": "revenue"}])
    ...        ).lines[0].values
    (12.0, 0.0, 1.0)
    """
    interval, breakdown = spec.interval, spec.breakdown
    table = events
    if breakdown is not None:
        # Person and group traits live on identity messages: read them before narrowing.
        table = with_property(table, "_jl_value", breakdown.property, breakdown.source)
    flags = {f"_jl_s{i}": series for i, series in enumerate(spec.series)}
    rows = matched_events(table, flags)
    span = period_range(rows, interval, spec.date_from, spec.date_to)
    if span is None:
        return _assemble(spec, range(0), range(0), [], "No event matches any series.")
    first, last = span
    lowest = first - (last - first + 1) if spec.compare else first

    rows = rows.filter(in_periods(rows.timestamp, interval, lowest, last))
    rows = rows.mutate(_jl_period=period_number(rows.timestamp, interval))
    if breakdown is None:
        rows = rows.mutate(_jl_label=ibis.literal(""), _jl_rank=ibis.literal(0, "int64"))
    else:
        rows = _labelled(rows, first, breakdown.limit)
    # One pass: every series is a conditional aggregate over the same grouped rows.
    rows = _with_numbers(rows, spec.series)
    metrics = {f"_jl_m{i}": _metric(rows, i, series) for i, series in enumerate(spec.series)}
    grouped = rows.group_by("_jl_period", "_jl_label", "_jl_rank").agg(**metrics)
    cells = grouped.to_pyarrow().to_pylist()
    current = range(first, last + 1)
    previous = range(lowest, first) if spec.compare else range(0)
    return _assemble(spec, current, previous, cells, "No event matches any series in the range.")


def _labelled(rows: ibis.Table, first: int, limit: int) -> ibis.Table:
    """Add ``_jl_label`` (the value, or ``OTHER`` beyond the top ``limit``) and ``_jl_rank``."""
    rows = rows.mutate(_jl_key=rows._jl_value.fill_null(_UNSET))
    current = rows.filter(rows._jl_period >= first)
    counted = current.group_by(_jl_top=current._jl_key).agg(_jl_events=ibis._.count())
    order = ibis.row_number().over(order_by=[ibis.desc(counted._jl_events), counted._jl_top])
    top = counted.mutate(_jl_rank=order).filter(lambda t: t._jl_rank < limit)
    joined = rows.left_join(top.select("_jl_top", "_jl_rank"), rows._jl_key == top._jl_top)
    return joined.mutate(
        _jl_label=joined._jl_top.isnull().ifelse(OTHER, joined._jl_key),
        _jl_rank=joined._jl_rank.fill_null(limit),
    )


def _with_numbers(rows: ibis.Table, series: list[TrendsSeries]) -> ibis.Table:
    """Add ``_jl_v{i}``, the float value of series ``i``'s property, for the property maths."""
    for i, one in enumerate(series):
        if one.property is None:
            continue
        if one.property in rows.columns and rows[one.property].type().is_numeric():
            rows = rows.mutate(**{f"_jl_v{i}": rows[one.property].cast("float64")})
        else:
            rows = with_property(rows, f"_jl_t{i}", one.property, "event")
            rows = rows.mutate(**{f"_jl_v{i}": rows[f"_jl_t{i}"].try_cast("float64")})
            rows = rows.drop(f"_jl_t{i}")
    return rows


def _metric(rows: ibis.Table, index: int, series: TrendsSeries) -> ir.FloatingScalar:
    """Series ``index``'s metric over the rows it matches, as a float64 reduction."""
    hit = rows[f"_jl_s{index}"]
    if series.math == "total":
        value = rows.count(where=hit)
    elif series.math == "persons":
        value = rows.person_id.nunique(where=hit)
    else:
        # Masked by hand rather than with ``where=``: Ibis's PySpark median puts the condition
        # on the percentile argument, which Spark refuses. Aggregates skip the nulls.
        number = hit.ifelse(rows[f"_jl_v{index}"], ibis.null("float64"))
        reduce = {"sum": "sum", "avg": "mean", "min": "min", "max": "max", "median": "median"}
        value = getattr(number, reduce[series.math])()
    return value.cast("float64")


def _assemble(
    spec: TrendsSpec, current: range, previous: range, cells: list[dict[str, Any]], empty: str
) -> TrendsResult:
    values = {
        (i, c["_jl_label"], c["_jl_period"]): c[f"_jl_m{i}"]
        for c in cells
        for i in range(len(spec.series))
    }
    ranks = {c["_jl_label"]: c["_jl_rank"] for c in cells}
    labels = sorted(ranks, key=lambda label: (ranks[label], label))
    if spec.breakdown is None:
        labels = [""]
    lines = []
    for i, series in enumerate(spec.series):
        for label in labels:
            for compare, numbers in (("current", current), ("previous", previous)):
                if compare == "previous" and not spec.compare:
                    continue
                lines.append(
                    TrendLine(
                        series=i,
                        title=series.title,
                        math=series.math,
                        breakdown_value=None if label in ("", _UNSET) else label,
                        compare=compare,
                        values=tuple(
                            _value(values.get((i, label, n)), series.math) for n in numbers
                        ),
                    )
                )
    has_current = any(n in current for (_, _, n) in values)
    return TrendsResult(
        interval=spec.interval,
        periods=tuple(start_of(n, spec.interval) for n in current),
        previous_periods=tuple(start_of(n, spec.interval) for n in previous),
        breakdown=None if spec.breakdown is None else spec.breakdown.property,
        lines=tuple(lines),
        warnings=() if has_current else (AnalysisWarning("NO_EVENTS", empty),),
    )


def _value(value: float | None, math: str) -> float | int | None:
    """Counts as integers; empty counts and sums as 0; other statistics stay ``None``."""
    if math in _COUNTS:
        return int(value or 0)
    if value is None and math == "sum":
        return 0.0
    return value


register(
    Analysis(
        name="trends",
        spec=TrendsSpec,
        run=trends,
        title="Trends",
        summary="How a count, sum or average of chosen events changes from period to period.",
        example={
            "series": [
                {"event": "Order Completed", "math": "sum", "property": "revenue"},
                {"event": "Order Completed", "math": "persons"},
            ],
            "interval": "week",
            "compare": True,
        },
    )
)
