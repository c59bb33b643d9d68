"""Lifecycle: per period, who is new, who stayed, who came back and who went quiet.

A person is *active* in a UTC calendar period (hour, day, Monday-first week, month) when they
did a matching event in it. Each active person is exactly one of (PostHog's lifecycle):

- **new**: this is the period of their first matching event ever; the whole table is read,
  not only the range, so a person active before the range is never new inside it;
- **returning**: they were active in the previous period too;
- **resurrecting**: not new, and inactive in the previous period.

**Dormant** persons were active in the previous period and are not in this one; they are
reported as a negative count, as PostHog plots them below the axis. So for every period
``new + returning + resurrecting`` is the active persons, and ``returning - dormant`` (with
dormant's sign) relates consecutive periods: ``active[t-1] = returning[t] + |dormant[t]|``.

The range is whole periods from ``date_from``'s to ``date_to``'s, by default the data's first
and last matching events; periods with no activity are reported with zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import pandas as pd
import plotly.graph_objects as go

from journeylens.analysis.base import AnalysisWarning, Interval, Result
from journeylens.analysis.event_match import EventField, EventMatch, matched_events
from journeylens.analysis.periods import (
    DateRangeSpec,
    in_periods,
    period_number,
    period_range,
    start_of,
)
from journeylens.analysis.registry import Analysis, register

__all__ = ["STATUSES", "LifecycleResult", "LifecycleSpec", "lifecycle"]

#: The lifecycle statuses, in the order they are stacked.
STATUSES = ("new", "returning", "resurrecting", "dormant")
_COLOURS = {
    "new": "#2ca02c",
    "returning": "#1f77b4",
    "resurrecting": "#ff7f0e",
    "dormant": "#d62728",
}


class LifecycleSpec(DateRangeSpec):
    """Which events make a person active, per which period, over which range.

    >>> LifecycleSpec(event="Product Viewed", interval="week").interval
    'week'
    """

    event: EventField = EventMatch()
    interval: Interval = "day"


@dataclass(frozen=True)
class LifecycleResult(Result):
    """Persons per lifecycle status per period.

    Attributes:
        interval: as in the spec.
        periods: start (UTC) of every period of the range, oldest first.
        new, returning, resurrecting: persons of that status in each period (≥ 0).
        dormant: minus the persons active in the previous period and not in this one (≤ 0).
        warnings: codes ``NO_EVENTS`` (nothing matches), ``NO_PERIODS`` (empty range).
    """

    interval: Interval
    periods: tuple[datetime, ...]
    new: tuple[int, ...]
    returning: tuple[int, ...]
    resurrecting: tuple[int, ...]
    dormant: tuple[int, ...]
    warnings: tuple[AnalysisWarning, ...] = ()

    @property
    def active(self) -> tuple[int, ...]:
        """Persons active in each period: ``new + returning + resurrecting``."""
        return tuple(map(sum, zip(self.new, self.returning, self.resurrecting, strict=True)))

    def to_frame(self) -> pd.DataFrame:
        """One row per period: ``period`` (start, UTC), ``new``, ``returning``,
        ``resurrecting``, ``dormant`` (≤ 0) and ``active`` (the first three summed)."""
        return pd.DataFrame(
            {
                "period": list(self.periods),
                "new": list(self.new),
                "returning": list(self.returning),
                "resurrecting": list(self.resurrecting),
                "dormant": list(self.dormant),
                "active": list(self.active),
            }
        ).astype({s: "int64" for s in (*STATUSES, "active")})

    def to_dict(self) -> dict[str, Any]:
        """``interval``; ``periods``: a list of ``{period (ISO-8601), new, returning,
        resurrecting, dormant (≤ 0), active}``; ``warnings``."""
        return {
            "interval": self.interval,
            "periods": [
                {
                    "period": p.isoformat(),
                    "new": n,
                    "returning": r,
                    "resurrecting": s,
                    "dormant": d,
                    "active": a,
                }
                for p, n, r, s, d, a in zip(
                    self.periods,
                    self.new,
                    self.returning,
                    self.resurrecting,
                    self.dormant,
                    self.active,
                    strict=True,
                )
            ],
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """Stacked bars per period; dormant persons below the axis."""
        fig = go.Figure()
        for status in STATUSES:
            fig.add_trace(
                go.Bar(
                    x=list(self.periods),
                    y=list(getattr(self, status)),
                    name=status,
                    marker_color=_COLOURS[status],
                )
            )
        fig.update_layout(
            title="Lifecycle", barmode="relative", yaxis_title="persons", xaxis_title=self.interval
        )
        return fig


def lifecycle(events: ibis.Table, spec: LifecycleSpec) -> LifecycleResult:
    """Persons per period split into new, returning, resurrecting and dormant.

    Returns:
        A :class:`LifecycleResult`; counts are persons (distinct ``person_id``) per period,
        not events, so there is no rate and no denominator.

    >>> t = ibis.memtable({"person_id": ["a", "a", "a"], "type": ["track"] * 3,
    ...     "event": ["go"] * 3, "properties": [None] * 3,
    ...     "timestamp": ["2024-01-01 09:00", "2024-01-02 09:00", "2024-01-04 09:00"]})
    >>> t = t.cast({"timestamp": "timestamp('UTC')", "properties": "json"})
    >>> r = lifecycle(t, LifecycleSpec(event="go"))
    >>> r.new, r.returning, r.resurrecting, r.dormant
    ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 0, 1), (0, 0, -1, 0))
    """
    interval = spec.interval
    rows = matched_events(events, {"_jl_active": spec.event})
    span = period_range(rows, interval, spec.date_from, spec.date_to)
    if span is None:
        return _result(spec, range(0), {}, "NO_EVENTS", "No events match the lifecycle event.")
    first, last = span

    # The whole history up to the range's end: "new" means first activity ever.
    rows = rows.filter(in_periods(rows.timestamp, interval, None, last))
    active = rows.select(
        person=rows.person_id, period=period_number(rows.timestamp, interval)
    ).distinct()
    history = ibis.window(group_by=active.person, order_by=active.period)
    active = active.mutate(
        before=active.period.lag().over(history), after=active.period.lead().over(history)
    )
    status = ibis.cases(
        (active.before.isnull(), "new"),
        (active.before == active.period - 1, "returning"),
        else_="resurrecting",
    )
    present = (
        active.filter(active.period.between(first, last))
        .group_by(period="period", status=status)
        .agg(persons=ibis._.count())
    )
    # A person goes dormant in the period right after an active one that has no successor.
    gone = active.filter(
        (active.after.isnull() | (active.after != active.period + 1))
        & (active.period + 1).between(first, last)
    )
    dormant = gone.group_by(period=gone.period + 1, status=ibis.literal("dormant")).agg(
        persons=ibis._.count()
    )
    cells = present.union(dormant).to_pyarrow().to_pylist()
    counts = {(c["period"], c["status"]): c["persons"] for c in cells}
    return _result(spec, range(first, last + 1), counts)


def _result(
    spec: LifecycleSpec,
    numbers: range,
    counts: dict[tuple[int, str], int],
    code: str | None = None,
    message: str = "",
) -> LifecycleResult:
    if code is None and not counts:
        code, message = "NO_EVENTS", "Nobody was active in the range or the period before it."
    if code is None and not numbers:
        code, message = "NO_PERIODS", "The range holds no period."
    column = {s: tuple(counts.get((n, s), 0) for n in numbers) for s in STATUSES}
    return LifecycleResult(
        interval=spec.interval,
        periods=tuple(start_of(n, spec.interval) for n in numbers),
        new=column["new"],
        returning=column["returning"],
        resurrecting=column["resurrecting"],
        dormant=tuple(-n for n in column["dormant"]),
        warnings=() if code is None else (AnalysisWarning(code, message),),
    )


register(
    Analysis(
        name="lifecycle",
        spec=LifecycleSpec,
        run=lifecycle,
        title="Lifecycle",
        summary="How many persons are new, returning, resurrecting or dormant in each period.",
        example={"event": "Product Viewed", "interval": "week"},
    )
)
