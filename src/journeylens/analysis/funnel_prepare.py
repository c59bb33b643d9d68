"""Turn the events table into the funnel's working rows: one row per counted event with its
unit, breakdown value, the steps it matches and the exclusions it trips.

Person and group properties are read on the whole table first (they come from ``identify``
and ``group`` calls), then the table is narrowed to the events a funnel can use: ``track``,
``page`` and ``screen`` messages of a known unit inside the date range, and — except for
strict funnels, where any event breaks a chain — only those matching a step or an exclusion.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import ibis
import ibis.expr.types as ir

from journeylens.analysis.filters import with_match
from journeylens.analysis.funnel_spec import FunnelSpec
from journeylens.analysis.properties import with_property

__all__ = ["Prepared", "prepare", "unit_column"]

#: Message types that are events a person did (identify/group/alias calls are not).
EVENT_TYPES = ("track", "page", "screen")


@dataclass(frozen=True)
class Prepared:
    """The working rows. ``table`` has the partition ``keys`` (the unit ``_u``, plus ``_v``
    for per-value breakdowns), ``timestamp``, ``message_id``, ``_b`` (breakdown value text),
    ``_m1``…``_mN`` (matches step k), ``_g1``…``_g{N-1}`` (forbidden while an attempt that
    reached i steps waits) and ``_vm`` (the event may fill the attributed step)."""

    table: ir.Table
    keys: tuple[str, ...]
    n: int
    attributed_step: int | None = None


def unit_column(spec: FunnelSpec) -> str:
    """Name of the unit column in results: ``person_id``, ``session_id`` or the property."""
    if spec.count_by == "person":
        return "person_id"
    if spec.count_by == "session":
        return "session_id"
    return spec.count_by.property


def prepare(events: ir.Table, spec: FunnelSpec) -> Prepared:
    """The working rows of ``spec`` over ``events`` (see :class:`Prepared`)."""
    n = len(spec.steps)
    ev = events
    if spec.count_by == "person":
        ev = ev.mutate(_u=ev.person_id.cast("string"))
    elif spec.count_by == "session":
        ev = ev.mutate(_u=ev.session_id.cast("string"))
    else:
        ev = with_property(ev, "_u", spec.count_by.property, spec.count_by.source)
    bd = spec.breakdown
    if bd is not None:
        ev = with_property(ev, "_b", bd.property, bd.source)
    else:
        ev = ev.mutate(_b=ibis.null("string"))

    # Filters only where there are some: every extra projection costs compile time.
    filtered: set[str] = set()
    for k, step in enumerate(spec.steps, start=1):
        if spec.where or step.where:
            ev = with_match(ev, (*spec.where, *step.where), f"_m{k}")
            filtered.add(f"_m{k}")
    for x, ex in enumerate(spec.exclusions):
        if spec.where or ex.where:
            ev = with_match(ev, (*spec.where, *ex.where), f"_x{x}")
            filtered.add(f"_x{x}")
    names = {s.event for s in spec.steps} | {x.event for x in spec.exclusions}
    if spec.order == "strict" or None in names:
        ev = ev.filter(ev.type.isin(EVENT_TYPES) & ev.person_id.notnull())
    else:
        # Only track, page and screen messages have an event name, so ``type`` need not be
        # read; the bare name test (implied by the matches) is the cheapest first cut.
        ev = ev.filter(ev.person_id.notnull(), ev.event.isin(sorted(names)))
    # Past that cut every name is non-null, so a name test needs no null guard.
    named_only = spec.order != "strict" and None not in names

    def named(column: str, event: str | None) -> ir.BooleanValue:
        test = _named(ev, event, nullable=not named_only)
        return ev[column] & test if column in filtered else test

    matches = {}
    for k, step in enumerate(spec.steps, start=1):
        hit = named(f"_m{k}", step.event)
        if step.first_time_for_person:
            # The person's very first such event, over all time (before the date range).
            rank = ibis.row_number().over(
                group_by=[ev.person_id, hit], order_by=[ev.timestamp, ev.message_id]
            )
            hit = hit & (rank == 0)
        matches[f"_m{k}"] = hit
    excluded = [named(f"_x{x}", ex.event) for x, ex in enumerate(spec.exclusions)]
    guards = {}
    for i in range(1, n):
        # An exclusion from step f to step t (0-based) guards attempts that reached f+1..t steps.
        flags = [
            e
            for e, ex in zip(excluded, spec.exclusions, strict=True)
            if ex.from_step < i <= ex.to_step
        ]
        guards[f"_g{i}"] = _any(flags)
    ev = ev.mutate(**matches, **guards)

    start, end = _bounds(spec.date_from, spec.date_to)
    keep = [ev._u.notnull()]
    if start is not None:
        keep.append(ev.timestamp >= start)
    if end is not None:
        keep.append(ev.timestamp < end)
    if spec.order != "strict" and (filtered or any(s.first_time_for_person for s in spec.steps)):
        # Without filters or first-time ranks the name cut above already keeps exactly these.
        keep.append(_any([ev[c] for c in (*matches, *guards)]))
    ev = ev.filter(*keep)

    keys: tuple[str, ...] = ("_u",)
    vm: ir.BooleanValue = ibis.literal(True)
    if bd is not None and bd.attribution == "all_events":
        # Each value runs its own funnel on the events carrying it.
        ev = ev.filter(ev._b.notnull()).mutate(_v=ev._b)
        keys = ("_u", "_v")
    elif bd is not None and bd.attribution == "step":
        ev, vm = _step_values(ev, f"_m{bd.step + 1}")
        keys = ("_u", "_v")
    cols = [*keys, "timestamp", "message_id", "_b", *matches, *guards]
    step = bd.step if bd is not None and bd.attribution == "step" else None
    return Prepared(ev.select(*cols, _vm=vm), keys, n, step)


def _step_values(ev: ir.Table, step_col: str) -> tuple[ir.Table, ir.BooleanValue]:
    """Pair each unit's events with every value seen on its events of the attributed step (a
    unit with none gets one null value); that step is then filled only by events whose value
    is the pair's value."""
    seen = ev.filter(ev[step_col] & ev._b.notnull()).select(_ju=ev._u, _v=ev._b).distinct()
    units = ev.select(_ju=ev._u).distinct()
    none = units.anti_join(seen, "_ju").mutate(_v=ibis.null("string"))
    values = seen.union(none)
    paired = ev.join(values, ev._u == values._ju).drop("_ju")
    same = (paired._b == paired._v).fill_null(False) | (paired._b.isnull() & paired._v.isnull())
    return paired, same


def _named(ev: ir.Table, event: str | None, *, nullable: bool) -> ir.BooleanValue:
    if event is None:
        return ibis.literal(True)
    test = ev.event == event
    return test.fill_null(False) if nullable else test


def _any(flags: list[ir.BooleanValue]) -> ir.BooleanValue:
    if not flags:
        return ibis.literal(False)
    return functools.reduce(operator.or_, flags)


def _bounds(
    date_from: datetime | date | None, date_to: datetime | date | None
) -> tuple[ir.TimestampScalar | None, ir.TimestampScalar | None]:
    def moment(value: datetime | date) -> datetime:
        if isinstance(value, datetime):
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime(value.year, value.month, value.day, tzinfo=UTC)

    start = ibis.timestamp(moment(date_from)) if date_from is not None else None
    end = None
    if date_to is not None:
        # A datetime bound is inclusive; a date includes its whole day.
        stop = moment(date_to) + (
            timedelta(microseconds=1) if isinstance(date_to, datetime) else timedelta(days=1)
        )
        end = ibis.timestamp(stop)
    return start, end
