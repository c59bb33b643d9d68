"""Retention: of the persons who started in a period, how many came back k periods later.

Semantics (PostHog's, in its default "strict calendar dates" mode):

- **Periods** are UTC calendar hours, days, weeks (Monday first) or months. Period *k* of a
  cohort is the *k*-th calendar period after the cohort's period, whatever the time of day
  of the start event; a person counts once per period however often they return in it.
- **Cohorts** (``retention_type``): ``first_time`` puts a person in the cohort of the period of
  their first matching start event ever (all the table's history is read, not only the range;
  someone whose first start is before the range is in no cohort). ``recurring`` puts a person
  in every cohort period in which they did the start event, so they can be in several cohorts.
- **Period 0** is the cohort itself: its count is the cohort size (100%) even when the return
  event differs from the start event, as in PostHog, where the first column is the cohort.
  Periods 1 … ``total_intervals - 1`` count persons who did the return event in that period.
- **Range**: cohorts are the whole periods from ``date_from``'s to ``date_to``'s; without
  ``date_from``, the ``total_intervals`` periods ending with ``date_to``'s (PostHog's default);
  ``date_to`` defaults to the latest start or return event. Returns are counted up to the end
  of ``date_to``'s period, so cohort *c* has observed periods ``0 … last - c``; later cells are
  unknown (``None``), not zero.
- ``total_intervals`` defaults to 8 (periods 0–7), PostHog's current schema default (its query
  runner falls back to 7 and older versions showed 11). ``retention_type`` defaults to
  ``first_time``, what PostHog's insight templates use (its query runner alone falls back to
  recurring).

Heavy lifting stays in the engine: matching rows are reduced to distinct (person, period) pairs
with two flags, cohorts and returns are drawn from those pairs, joined on the person within
``total_intervals`` periods and counted per (cohort, period); one small table comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import ibis
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from pydantic import Field

from journeylens.analysis.base import AnalysisWarning, Interval, Result
from journeylens.analysis.event_match import EventField, EventMatch, matched_events
from journeylens.analysis.periods import (
    DateRangeSpec,
    in_periods,
    number_of,
    period_number,
    start_of,
    timestamp_bounds,
)
from journeylens.analysis.registry import Analysis, register

__all__ = ["RetentionResult", "RetentionSpec", "retention"]


class RetentionSpec(DateRangeSpec):
    """What retention to compute (see the module docstring for the exact rules).

    >>> RetentionSpec(start_event="Signed Up", return_event="Order Completed").total_intervals
    8
    """

    start_event: EventField = EventMatch()
    return_event: EventField = EventMatch()
    retention_type: Literal["first_time", "recurring"] = "first_time"
    interval: Interval = "day"
    total_intervals: int = Field(default=8, ge=1, le=400)


@dataclass(frozen=True)
class RetentionResult(Result):
    """Cohort × period counts and the retention curve.

    Attributes:
        interval, retention_type, total_intervals: as in the spec.
        cohorts: start (UTC) of each cohort period, oldest first, one per period of the range,
            including periods nobody started in.
        cohort_sizes: persons in each cohort.
        counts: ``counts[i][k]``: persons of cohort ``i`` who returned in period ``k``
            (``counts[i][0]`` is the cohort size); ``None`` where period ``k`` of that cohort
            lies after the range, i.e. not observed yet.
        curve_persons, curve_base: per period ``k``, the retained persons and the persons of the
            cohorts old enough to have period ``k`` (the denominator), summed over cohorts.
        warnings: see ``AnalysisWarning``; codes ``NO_EVENTS``, ``NO_COHORTS``.
    """

    interval: Interval
    retention_type: str
    total_intervals: int
    cohorts: tuple[datetime, ...]
    cohort_sizes: tuple[int, ...]
    counts: tuple[tuple[int | None, ...], ...]
    curve_persons: tuple[int, ...]
    curve_base: tuple[int, ...]
    warnings: tuple[AnalysisWarning, ...] = ()

    @property
    def rates(self) -> tuple[tuple[float | None, ...], ...]:
        """``counts[i][k] / cohort_sizes[i]``; ``None`` when unobserved or the cohort is empty."""
        return tuple(
            tuple(None if n is None or not size else n / size for n in row)
            for row, size in zip(self.counts, self.cohort_sizes, strict=True)
        )

    @property
    def curve(self) -> tuple[float | None, ...]:
        """Weighted mean retention per period: ``curve_persons[k] / curve_base[k]`` (the cohorts
        that can have period ``k``, weighted by size); ``None`` when that base is 0."""
        return tuple(
            n / base if base else None
            for n, base in zip(self.curve_persons, self.curve_base, strict=True)
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per observed (cohort, period): ``cohort`` (period start, UTC),
        ``cohort_size``, ``period`` (0 = the cohort period), ``persons`` and ``retention``
        (``persons / cohort_size``, NaN for an empty cohort)."""
        rows = [
            (cohort, size, k, n, n / size if size else None)
            for cohort, size, row in zip(self.cohorts, self.cohort_sizes, self.counts, strict=True)
            for k, n in enumerate(row)
            if n is not None
        ]
        frame = pd.DataFrame(
            rows, columns=["cohort", "cohort_size", "period", "persons", "retention"]
        )
        return frame.astype({"retention": "float64"})

    def to_dict(self) -> dict[str, Any]:
        """``interval``, ``retention_type``, ``total_intervals``; ``cohorts``: a list of
        ``{cohort (ISO-8601), size, persons: [per period, null if unobserved], retention:
        [fraction of size, null if unobserved or size 0]}``; ``curve``: a list of ``{period,
        persons, base, retention}``; ``warnings``."""
        return {
            "interval": self.interval,
            "retention_type": self.retention_type,
            "total_intervals": self.total_intervals,
            "cohorts": [
                {
                    "cohort": cohort.isoformat(),
                    "size": size,
                    "persons": list(row),
                    "retention": list(rate),
                }
                for cohort, size, row, rate in zip(
                    self.cohorts, self.cohort_sizes, self.counts, self.rates, strict=True
                )
            ],
            "curve": [
                {"period": k, "persons": n, "base": base, "retention": rate}
                for k, (n, base, rate) in enumerate(
                    zip(self.curve_persons, self.curve_base, self.curve, strict=True)
                )
            ],
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """A heatmap of retention by cohort and period above the weighted retention curve."""
        fig = make_subplots(rows=2, cols=1, row_heights=[0.65, 0.35], vertical_spacing=0.12)
        periods = [f"{self.interval.title()} {k}" for k in range(self.total_intervals)]
        labels = [
            f"{c:%Y-%m-%d %H:%M} ({n})"
            for c, n in zip(self.cohorts, self.cohort_sizes, strict=True)
        ]
        percent = [[None if r is None else round(100 * r, 1) for r in row] for row in self.rates]
        fig.add_trace(
            go.Heatmap(
                z=percent,
                x=periods,
                y=labels,
                text=[[("" if p is None else f"{p:.1f}%") for p in row] for row in percent],
                texttemplate="%{text}",
                colorscale="Blues",
                zmin=0,
                zmax=100,
                colorbar={"title": "%", "len": 0.6, "y": 0.7},
                name="retention",
            ),
            row=1,
            col=1,
        )
        curve = [None if r is None else 100 * r for r in self.curve]
        fig.add_trace(
            go.Scatter(x=periods, y=curve, mode="lines+markers", name="mean"), row=2, col=1
        )
        fig.update_yaxes(autorange="reversed", row=1, col=1)
        fig.update_yaxes(title_text="retained %", rangemode="tozero", row=2, col=1)
        fig.update_layout(title="Retention", showlegend=False)
        return fig


def retention(events: ibis.Table, spec: RetentionSpec) -> RetentionResult:
    """Retention of persons from their start event to their return event, by cohort period.

    Returns:
        A :class:`RetentionResult`: per cohort (the persons whose start, first-ever or each one,
        fell in that period) the persons who did the return event 1, 2, … periods later.
        Rates divide by the cohort size; the curve divides the retained persons of all cohorts
        that can have that period by those cohorts' total size (a size-weighted mean).

    >>> t = ibis.memtable({"person_id": ["a", "a", "b"], "type": ["track"] * 3,
    ...     "event": ["go"] * 3, "properties": [None] * 3,
    ...     "timestamp": ["2024-01-01 09:00", "2024-01-02 09:00", "2024-01-01 10:00"]})
    >>> t = t.cast({"timestamp": "timestamp('UTC')", "properties": "json"})
    >>> r = retention(t, RetentionSpec(start_event="go", return_event="go", total_intervals=2))
    >>> r.counts
    ((2, 1), (0, None))
    """
    interval, total = spec.interval, spec.total_intervals
    rows = matched_events(events, {"_jl_start": spec.start_event, "_jl_return": spec.return_event})
    end = spec.date_to
    if end is None:
        bounds = timestamp_bounds(rows)
        if bounds is None:
            return _empty(spec, "NO_EVENTS", "No events match the start or return event.")
        end = bounds[1]
    last = number_of(end, interval)
    first = number_of(spec.date_from, interval) if spec.date_from else last - total + 1

    # Only first_time needs the history before the range, to find each first start.
    since = first if spec.retention_type == "recurring" else None
    rows = rows.filter(in_periods(rows.timestamp, interval, since, last))
    pairs = rows.group_by(
        person=rows.person_id, period=period_number(rows.timestamp, interval)
    ).agg(started=rows._jl_start.any(), returned=rows._jl_return.any())
    starts = pairs.filter(pairs.started)
    if spec.retention_type == "first_time":
        cohorts = starts.group_by("person").agg(cohort=starts.period.min())
    else:
        cohorts = starts.select("person", cohort=starts.period)
    cohorts = cohorts.filter(cohorts.cohort.between(first, last))
    returns = pairs.filter(pairs.returned & (pairs.period > first)).select(
        back=pairs.person, back_period=pairs.period
    )
    hits = cohorts.join(
        returns,
        [
            cohorts.person == returns.back,
            returns.back_period > cohorts.cohort,
            returns.back_period < cohorts.cohort + total,
        ],
    )
    # Each (person, cohort, return period) is one row, so counting rows counts persons.
    retained = hits.group_by("cohort", k=hits.back_period - hits.cohort).agg(persons=ibis._.count())
    sizes = cohorts.group_by("cohort").agg(k=ibis.literal(0, "int64"), persons=ibis._.count())
    cells = sizes.union(retained.select("cohort", "k", "persons")).to_pyarrow().to_pylist()
    return _result(spec, first, last, {(c["cohort"], c["k"]): c["persons"] for c in cells})


def _result(
    spec: RetentionSpec, first: int, last: int, cells: dict[tuple[int, int], int]
) -> RetentionResult:
    total = spec.total_intervals
    numbers = range(first, last + 1)
    counts = tuple(
        tuple(cells.get((c, k), 0) if c + k <= last else None for k in range(total))
        for c in numbers
    )
    sizes = tuple(row[0] or 0 for row in counts)
    curve_persons = tuple(sum(row[k] or 0 for row in counts) for k in range(total))
    curve_base = tuple(
        sum(size for c, size in zip(numbers, sizes, strict=True) if c + k <= last)
        for k in range(total)
    )
    warnings = ()
    if not any(sizes):
        warnings = (
            AnalysisWarning(
                "NO_COHORTS",
                "Nobody did the start event for the first time in the range, so every cohort "
                "is empty."
                if spec.retention_type == "first_time"
                else "Nobody did the start event in the range, so every cohort is empty.",
            ),
        )
    return RetentionResult(
        interval=spec.interval,
        retention_type=spec.retention_type,
        total_intervals=total,
        cohorts=tuple(start_of(c, spec.interval) for c in numbers),
        cohort_sizes=sizes,
        counts=counts,
        curve_persons=curve_persons,
        curve_base=curve_base,
        warnings=warnings,
    )


def _empty(spec: RetentionSpec, code: str, message: str) -> RetentionResult:
    total = spec.total_intervals
    return RetentionResult(
        interval=spec.interval,
        retention_type=spec.retention_type,
        total_intervals=total,
        cohorts=(),
        cohort_sizes=(),
        counts=(),
        curve_persons=(0,) * total,
        curve_base=(0,) * total,
        warnings=(AnalysisWarning(code, message),),
    )


register(
    Analysis(
        name="retention",
        spec=RetentionSpec,
        run=retention,
        title="Retention",
        summary="Of the persons who started in a period, how many came back in each later period.",
        example={
            "start_event": "Signed Up",
            "return_event": "Order Completed",
            "interval": "week",
            "total_intervals": 4,
        },
    )
)
