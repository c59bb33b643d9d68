"""Funnels: how many units go through a sequence of steps, where they drop off, how long
each step takes — PostHog's semantics, computed inside the engine.

``funnel(events, spec)`` reduces the events to one row per unit (its furthest step and the
timings of its best attempt), then to a few counts, averages and medians per step, per
breakdown value and per period. Only those small aggregates come back to Python.
``funnel_actors`` lists the units behind one step. Ordered funnels whose steps and exclusions
are all different events (``spec.distinct_ordered``, the common case) take the fast chain of
:mod:`~journeylens.analysis.funnel_chain`; strict ones, "any event" steps and steps sharing an
event take the general walk of :mod:`~journeylens.analysis.funnel_engine`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from journeylens.analysis.base import AnalysisWarning
from journeylens.analysis.funnel_chain import chain_units
from journeylens.analysis.funnel_engine import ordered_units, seconds_between
from journeylens.analysis.funnel_prepare import prepare, unit_column
from journeylens.analysis.funnel_result import (
    FunnelBreakdownRow,
    FunnelPeriod,
    FunnelResult,
    FunnelStepStats,
)
from journeylens.analysis.funnel_spec import (
    FunnelBreakdown,
    FunnelCountBy,
    FunnelExclusion,
    FunnelSpec,
    FunnelStep,
)
from journeylens.analysis.funnel_unordered import open_units, unordered_units
from journeylens.analysis.periods import bucket
from journeylens.analysis.registry import Analysis, register
from journeylens.errors import ValidationError

__all__ = [
    "FunnelBreakdown",
    "FunnelBreakdownRow",
    "FunnelCountBy",
    "FunnelExclusion",
    "FunnelPeriod",
    "FunnelResult",
    "FunnelSpec",
    "FunnelStep",
    "FunnelStepStats",
    "funnel",
    "funnel_actors",
]

OTHER = "Other"


def funnel(events: ir.Table, spec: FunnelSpec) -> FunnelResult:
    """Count units through ``spec.steps`` (see :class:`FunnelSpec` for every option).

    Returns:
        FunnelResult: ``steps`` (per step ``name``, ``count`` of units that reached it,
        ``conversion_rate`` = count / count at step 1, ``step_conversion_rate`` = count /
        count at the previous step, ``drop_off`` = previous count − count, and the average
        and median seconds from the previous step, zero gaps left out), ``breakdowns`` (the
        same per value, values past ``breakdown.limit`` folded into ``"Other"``),
        ``over_time`` (per period of the first step: ``entered``, ``converted`` = reached
        the last step, ``conversion_rate`` = converted / entered) and ``warnings``
        (``NO_UNITS`` when nobody entered the funnel). A unit whose furthest attempt was
        excluded is left out entirely.

    >>> import ibis
    >>> ev = ibis.memtable({"person_id": ["a", "a", "b"], "event": ["view", "buy", "view"],
    ...     "type": ["track"] * 3, "message_id": ["1", "2", "3"],
    ...     "timestamp": ["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-01 10:00"]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp"))
    >>> [s.count for s in funnel(ev, FunnelSpec(steps=["view", "buy"])).steps]
    [2, 1]
    """
    names = [s.name for s in spec.steps]
    units = _units(events, spec)
    breakdowns: tuple[FunnelBreakdownRow, ...] = ()
    if spec.breakdown is None:
        total, periods = _totals_and_periods(units, spec, len(names))
    else:
        # Breakdowns read the units several times: keep them rather than recompute.
        with units.cache() as cached:
            total, periods = _totals_and_periods(cached, spec, len(names))
            breakdowns = _breakdowns(cached, spec.breakdown, names)
    steps = _step_stats(total.iloc[0] if len(total) else None, names)
    warnings = []
    if steps[0].count == 0:
        warnings.append(
            AnalysisWarning(
                "NO_UNITS",
                "No unit did the first step inside the date range; every count is zero.",
            )
        )
    if spec.order in ("open", "hybrid"):
        warnings.append(
            AnalysisWarning(
                "NO_WINDOW",
                f"{spec.order!r} funnels have no conversion window and no timings.",
            )
        )
    over_time = tuple(
        FunnelPeriod(
            period=_moment(row.period),
            entered=int(row.entered),
            converted=int(row.converted),
            conversion_rate=_ratio(row.converted, row.entered),
        )
        for row in periods.sort_values("period").itertuples()
        if row.period is not None and not pd.isna(row.period)
    )
    return FunnelResult(steps, breakdowns, over_time, unit_column(spec), tuple(warnings))


def funnel_actors(
    events: ir.Table,
    spec: FunnelSpec,
    *,
    step: int,
    outcome: Literal["converted", "dropped"] = "converted",
    limit: int | None = None,
) -> pd.DataFrame:
    """The units behind one step of ``funnel(events, spec)``, for drill-down.

    ``step`` is 1-based. ``converted``: units that reached ``step``; ``dropped``: units that
    reached ``step - 1`` but not ``step`` (``step`` ≥ 2).

    Returns:
        DataFrame sorted by unit, at most ``limit`` rows: the unit column (``person_id``,
        ``session_id`` or the count-by property), ``steps_reached`` (furthest step of the
        unit), ``entered_at`` (first step of its best attempt, UTC) and ``breakdown`` (its
        breakdown value; only with a breakdown).

    >>> import ibis
    >>> ev = ibis.memtable({"person_id": ["a", "a", "b"], "event": ["view", "buy", "view"],
    ...     "type": ["track"] * 3, "message_id": ["1", "2", "3"],
    ...     "timestamp": ["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-01 10:00"]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp"))
    >>> spec = FunnelSpec(steps=["view", "buy"])
    >>> funnel_actors(ev, spec, step=2, outcome="dropped").person_id.tolist()
    ['b']
    """
    n = len(spec.steps)
    if not 1 <= step <= n or (outcome == "dropped" and step == 1):
        raise ValidationError(
            "step is not a step of this funnel for this outcome",
            received=step,
            allowed=f"1..{n} for 'converted', 2..{n} for 'dropped'",
            fix="Number steps from 1; nobody drops off before the first step",
        )
    units = _units(events, spec)
    if outcome == "converted":
        chosen = units.filter(units[f"_r{step}"])
    else:
        chosen = units.filter(units[f"_r{step - 1}"] & ~units[f"_r{step}"])
    reached = sum(chosen[f"_r{k}"].cast("int64") for k in range(1, n + 1))
    if spec.order not in ("open", "hybrid"):
        reached = chosen._depth
    name = unit_column(spec)
    cols = {name: chosen._u, "steps_reached": reached, "entered_at": chosen._entered}
    if spec.breakdown is not None:
        cols["breakdown"] = chosen._value
    out = chosen.select(**cols).order_by([name, "breakdown"] if spec.breakdown else [name])
    if limit is not None:
        out = out.limit(limit)
    frame = out.execute()
    # Engines disagree on time zones in results; the events are UTC.
    frame["entered_at"] = pd.to_datetime(frame["entered_at"], utc=True).astype(
        "datetime64[us, UTC]"
    )
    return frame


def _units(events: ir.Table, spec: FunnelSpec) -> ir.Table:
    """One row per counted unit (and value): ``_u``, ``_value``, ``_depth``, ``_entered``,
    ``_r1``…``_rN`` (reached step k) and ``_s2``…``_sN`` (seconds from step k-1 to k)."""
    n = len(spec.steps)
    prep = prepare(events, spec)
    if spec.order in ("open", "hybrid"):
        u = open_units(prep, hybrid=spec.order == "hybrid")
        u = u.mutate(
            _depth=ibis.null("int64"), **{f"_s{k}": ibis.null("float64") for k in range(2, n + 1)}
        )
    else:
        if spec.order == "unordered":
            u = unordered_units(prep, spec.window)
        else:
            if spec.distinct_ordered:
                u = chain_units(prep, spec)
            else:
                u = ordered_units(prep, spec.window, strict=spec.order == "strict")
            gaps = {
                f"_s{k}": seconds_between(u[f"_t{k}"], u[f"_t{k - 1}"]) for k in range(2, n + 1)
            }
            u = u.mutate(**gaps).drop(*(f"_t{k}" for k in range(1, n + 1)))
        u = u.mutate(**{f"_r{k}": u._depth >= k for k in range(1, n + 1)})
    bd = spec.breakdown
    if bd is None:
        return u.mutate(_value=ibis.null("string"))
    if bd.attribution in ("all_events", "step"):
        return u.rename(_value="_v")
    t = prep.table
    touch = t._b.argmin(t.timestamp, where=t._b.notnull())
    if bd.attribution == "last_touch":
        touch = t._b.argmax(t.timestamp, where=t._b.notnull())
    values = t.group_by(_ju=t._u).aggregate(_value=touch)
    return u.left_join(values, u._u == values._ju).drop("_ju")


def _stats(units: ir.Table, n: int, by: ir.Value | None = None) -> ir.Table:
    """Counts per step and average/median gaps (zero gaps left out), grouped by ``by``."""
    aggs: dict[str, ir.Value] = {f"c{k}": units[f"_r{k}"].sum() for k in range(1, n + 1)}
    for k in range(2, n + 1):
        gap = units[f"_s{k}"]
        # Zero-second gaps are left out, as PostHog does (nulls are skipped by both).
        kept = ibis.ifelse(units[f"_r{k}"] & (gap > 0).fill_null(False), gap, None)
        aggs[f"a{k}"] = kept.mean()
        aggs[f"m{k}"] = kept.median()
    if by is None:
        return units.aggregate(**aggs)
    return units.group_by(_value=by).aggregate(**aggs)


def _breakdowns(
    units: ir.Table, bd: FunnelBreakdown, names: list[str]
) -> tuple[FunnelBreakdownRow, ...]:
    n = len(names)
    counts = (
        units.group_by("_value")
        .aggregate(**{f"c{k}": units[f"_r{k}"].sum() for k in range(1, n + 1)})
        .execute()
    )
    # Rank as PostHog does: by the last step's count, then the previous ones.
    ranked = counts.sort_values([f"c{k}" for k in range(n, 0, -1)], ascending=False)
    keep = ranked["_value"].tolist()[: bd.limit]
    folded = len(ranked) > bd.limit
    value = units._value
    if folded:
        known = [v for v in keep if v is not None and not _missing(v)]
        inside = value.isin(known) if known else ibis.literal(False)
        if any(v is None or _missing(v) for v in keep):
            inside = inside | value.isnull()
        value = ibis.ifelse(inside, value, ibis.literal(OTHER))
    table = _stats(units, n, by=value).execute()
    rows = []
    for record in table.to_dict("records"):
        label = None if _missing(record["_value"]) else record["_value"]
        rows.append((label, _step_stats(pd.Series(record), names)))
    order = {(None if _missing(v) else v): i for i, v in enumerate(keep)}
    rows.sort(key=lambda r: order.get(r[0], len(order)))
    return tuple(FunnelBreakdownRow(value, steps) for value, steps in rows)


def _totals_and_periods(
    units: ir.Table, spec: FunnelSpec, n: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The overall step statistics and the per-period counts, in one query (one pass over the
    units): the two aggregates are stacked with a ``_kind`` column."""
    stats = _stats(units, n)
    periods = _over_time(units, spec, n)
    blank_stats = {c: ibis.null(stats.schema()[c]) for c in stats.columns}
    blank_periods = {c: ibis.null(periods.schema()[c]) for c in periods.columns}
    both = ibis.union(
        stats.mutate(_kind=ibis.literal("total"), **blank_periods),
        periods.mutate(_kind=ibis.literal("period"), **blank_stats).select(
            *stats.columns, *periods.columns, "_kind"
        ),
    ).execute()
    total = both[both["_kind"] == "total"][list(stats.columns)]
    return total, both[both["_kind"] == "period"][list(periods.columns)]


def _over_time(units: ir.Table, spec: FunnelSpec, n: int) -> ir.Table:
    entered = units.filter(units._r1)
    period = bucket(entered._entered, spec.interval)
    return entered.group_by(period=period).aggregate(
        entered=entered._r1.sum(), converted=entered[f"_r{n}"].sum()
    )


def _step_stats(row: pd.Series | None, names: list[str]) -> tuple[FunnelStepStats, ...]:
    counts = [0 if row is None else _int(row[f"c{k}"]) for k in range(1, len(names) + 1)]
    out = []
    for k, name in enumerate(names, start=1):
        count, prev = counts[k - 1], counts[k - 2] if k > 1 else counts[0]
        out.append(
            FunnelStepStats(
                name=name,
                count=count,
                conversion_rate=_ratio(count, counts[0]),
                step_conversion_rate=_ratio(count, prev),
                drop_off=prev - count,
                avg_time_to_convert_seconds=None if row is None or k == 1 else _num(row[f"a{k}"]),
                median_time_to_convert_seconds=None
                if row is None or k == 1
                else _num(row[f"m{k}"]),
            )
        )
    return tuple(out)


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den else None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _num(value: Any) -> float | None:
    return None if _missing(value) or pd.isna(value) else float(value)


def _int(value: Any) -> int:
    return 0 if _missing(value) or pd.isna(value) else int(value)


def _moment(value: Any) -> datetime:
    moment = pd.Timestamp(value)
    return (moment.tz_localize("UTC") if moment.tzinfo is None else moment).to_pydatetime()


register(
    Analysis(
        name="funnel",
        spec=FunnelSpec,
        run=funnel,
        title="Funnel",
        summary="How many people go through a sequence of steps, where they drop off and how "
        "long each step takes.",
        example={
            "steps": ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"],
            "window": "7d",
            "breakdown": {"property": "channel"},
        },
    )
)
