"""The ordered and strict funnel engine: PostHog's per-unit walk, written as window functions.

PostHog walks each unit's events keeping, for every step k, the attempt sitting at step k
(see ``tests/analysis/funnel_oracle.py``). Two facts make that walk a stack of running
aggregates instead of a loop:

- The attempt in slot k only ever gets a *later* start: a slot takes a copy of slot k-1,
  which holds the latest start that reached k-1. So "the attempt in slot k before this row"
  is the running maximum of the starts that entered slot k, and its entry (PostHog's
  "already reached" test) is the *first* row that copied that start: the maximum of
  ``struct(start, -position, ...)``.
- Everything an attempt needs to move on is known at its entry: it advances into slot k
  from a row matching step k within the window of its start, if no exclusion guarding it
  came after its entry, and (same-timestamp groups) if the row's event is not already one of
  its steps (a bitmask of the group's events it used).

Rows are (event, step) pairs in PostHog's processing order: by timestamp; inside a group of
same-timestamp events whose step sets differ, by step then event (exclusions ignored, no
strict clearing); otherwise event by event, its exclusions first and its steps from the
highest down; strict funnels add an end row per event that clears the slots it did not
match. Each step is one window pass over the pairs.

The unit's result follows PostHog's "best so far": the furthest step any attempt reached;
a unit whose furthest reach only an excluded attempt made is dropped; otherwise the holder
of the furthest step (the first clean attempt there that no later exclusion caught inside
its window, handing over to the next attempt when one did) gives the timings, read where
that attempt first entered each slot.
"""

from __future__ import annotations

from datetime import timedelta

import ibis
import ibis.expr.types as ir

from journeylens.analysis.funnel_prepare import Prepared

__all__ = ["any_of", "epoch_ms", "ordered_units", "seconds_between"]

_EXCL, _NULL_I = 0, ibis.null("int64")


def ordered_units(prep: Prepared, window: timedelta, *, strict: bool) -> ir.Table:
    """One row per unit (and value) that entered the funnel and was not excluded.

    Returns:
        Table with the partition keys, ``_depth`` (steps reached, 1..N), ``_entered`` (time of
        the best attempt's first step) and ``_t1``…``_tN`` (times of its steps, null past
        ``_depth``).
    """
    n, keys = prep.n, list(prep.keys)
    t = prep.table
    w = ibis.interval(seconds=int(window.total_seconds()))
    t = t.mutate(
        _sig=_bits([t[f"_m{k}"] for k in range(1, n + 1)] + [t[f"_g{i}"] for i in range(1, n)])
    )
    same_ts = ibis.window(group_by=[*keys, "timestamp"])
    t = t.mutate(
        _gi=ibis.row_number().over(group_by=[*keys, "timestamp"], order_by="message_id"),
        _mixed=t._sig.min().over(same_ts) != t._sig.max().over(same_ts),
    )
    any_guard = any_of([t[f"_g{i}"] for i in range(1, n)]) & ~t._mixed
    codes = [ibis.ifelse(any_guard, _EXCL, _NULL_I)]
    codes += [ibis.ifelse(t[f"_m{k}"], k, _NULL_I) for k in range(1, n + 1)]
    if strict:
        codes.append(ibis.ifelse(~t._mixed, n + 1, _NULL_I))
    t = t.mutate(_p=ibis.array(codes).unnest())
    t = t.filter(t._p.notnull())
    inner = ibis.ifelse(t._p == _EXCL, 0, ibis.ifelse(t._p > n, n + 1, n + 1 - t._p))
    # Inside a group of same-timestamp events with different step sets PostHog takes the
    # (event, step) pairs by step; otherwise event by event, exclusions first, steps downward.
    t = t.mutate(_a=ibis.ifelse(t._mixed, t._p, t._gi), _z=ibis.ifelse(t._mixed, t._gi, inner))
    breaks = {}
    if strict:
        end = t._p == n + 1
        breaks = {
            f"_brk{k}": (end & ~t[f"_m{k}"]).cast("int64").sum().over(_window(keys)).fill_null(0)
            for k in range(1, n + 1)
        }
    t = t.mutate(_pos=ibis.row_number().over(_window(keys, rows=None)), **breaks)

    def brk(k: int) -> ir.IntegerValue:
        return t[f"_brk{k}"] if strict else ibis.literal(0, "int64")

    enters = (t._p == 1) & (t._vm if prep.attributed_step == 0 else True)
    first = {"s": t.timestamp, "np": -t._pos, "mask": _bit(t._gi), "tl": t.timestamp}
    if strict:
        first = {"s": t.timestamp, "b": brk(1)} | first
    t = t.mutate(
        _st1=ibis.ifelse(enters, ibis.struct(first), ibis.null(_struct_type(strict))),
        _sx1=ibis.null("timestamp"),
    )
    for k in range(2, n + 2):
        j = k - 1  # the slot read by this pass; k = n + 1 only records slot n
        t = t.mutate(
            _prev=t[f"_st{j}"].max().over(_window(keys)),
            _lx=_excl_pos(t, j).max().over(_window(keys)) if j < n else _NULL_I,
        )
        prev = t._prev
        start = prev["s"]
        if strict:
            start = ibis.ifelse(prev["b"] == t[f"_brk{j}"], prev["s"], ibis.null("timestamp"))
        # What this pass learns about slot j: whether this row entered it (PostHog's
        # "already reached" otherwise), made an excluded attempt reach it, and what an
        # exclusion row finds there.
        record = {
            f"_e{j}": (t._p == j) & t[f"_st{j}"].notnull() & _differs(t[f"_st{j}"]["s"], start),
            f"_x{j}": (t._p == j) & t[f"_sx{j}"].notnull() & _differs(t[f"_sx{j}"], start),
            f"_pe{j}": -prev["np"],
            f"_xs{j}": start,
            f"_xl{j}": t._lx,
        }
        if k <= n:
            valid = start.notnull()
            # One event never fills two steps of an attempt (same-timestamp groups only).
            here = prev["tl"] == t.timestamp
            blocked = here & ((prev["mask"] & _bit(t._gi)) != 0)
            ok = (t._p == k) & valid & (t.timestamp <= start + w) & ~blocked.fill_null(False)
            if k - 1 == prep.attributed_step:
                ok = ok & t._vm
            excluded = t._lx.notnull() & (t._lx > -prev["np"])
            fields = {"s": prev["s"]} | ({"b": brk(k)} if strict else {})
            fields |= {
                "np": -t._pos,
                "mask": ibis.ifelse(here, prev["mask"], 0) | _bit(t._gi),
                "tl": t.timestamp,
            }
            record[f"_st{k}"] = ibis.ifelse(
                ok & ~excluded, ibis.struct(fields), ibis.null(_struct_type(strict))
            )
            record[f"_sx{k}"] = ibis.ifelse(ok & excluded, prev["s"], ibis.null("timestamp"))
        t = t.mutate(**record).drop("_prev", "_lx")
    return _holders(t, keys, n, w)


def _differs(a: ir.Value, b: ir.Value) -> ir.BooleanValue:
    return (a != b).fill_null(True)


def _window(keys: list[str], rows: tuple[int | None, int | None] | None = (None, -1)):
    """The processing order of a unit's pairs, by default over the rows before this one."""
    order = ["timestamp", "_a", "_z"]
    if rows is None:
        return ibis.window(group_by=keys, order_by=order)
    return ibis.window(group_by=keys, order_by=order, rows=rows)


def _bit(index: ir.IntegerValue) -> ir.IntegerValue:
    # A same-timestamp group is a bitmask of its events; past 62 events they share a bit.
    return ibis.literal(1, "int64") << ibis.least(index, 62)


def _excl_pos(t: ir.Table, i: int) -> ir.IntegerValue:
    """The row's position where it is an exclusion guarding slot ``i``, else null."""
    return ibis.ifelse((t._p == _EXCL) & t[f"_g{i}"], t._pos, _NULL_I)


def _holders(t: ir.Table, keys: list[str], n: int, w: ir.IntervalScalar) -> ir.Table:
    entry = any_of([t[f"_e{k}"].fill_null(False) for k in range(1, n + 1)])
    shadow = any_of([t[f"_x{k}"].fill_null(False) for k in range(2, n + 1)])
    marks = {}
    for i in range(1, n):
        start = t[f"_xs{i}"]
        # An exclusion marks the waiting attempt once: the first one after its entry.
        first = t[f"_xl{i}"].isnull() | (t[f"_xl{i}"] < t[f"_pe{i}"])
        marks[f"_mk{i}"] = (
            (t._p == _EXCL)
            & t[f"_g{i}"]
            & start.notnull()
            & (t.timestamp <= start + w)
            & first.fill_null(False)
            & _differs(t[f"_xs{i + 1}"], start)
        ).fill_null(False)
    t = t.mutate(_entry=entry, _shadow=shadow, **marks)

    nxt, lst = {}, {}
    for i in range(1, n):
        mark_ts = ibis.ifelse(t[f"_mk{i}"], t.timestamp, ibis.null("timestamp"))
        nxt[f"_nm{i}"] = mark_ts.min().over(_window(keys, rows=(1, None)))
        lst[f"_lm{i}"] = ibis.ifelse(t[f"_mk{i}"], t._pos, _NULL_I).max().over(_window(keys))
    t = t.mutate(**nxt, **lst)
    hold = {}
    for k in range(1, n + 1):
        before = t[f"_pe{k}"]
        if k == n:
            # The first attempt to reach the last step ends the walk.
            hold[k] = before.isnull()
        else:
            candidate = before.isnull() | (t[f"_lm{k}"] > before).fill_null(False)
            survives = t[f"_nm{k}"].isnull() | (t[f"_nm{k}"] > t[f"_st{k}"]["s"] + w)
            hold[k] = candidate & survives
    t = t.mutate(_hold=(t._entry & _case(t._p, hold)).fill_null(False))

    best = ibis.struct(
        {
            "p": t._p,
            "np": -t._pos,
            "s": _case(t._p, {k: t[f"_st{k}"]["s"] for k in range(1, n + 1)}),
        }
    )
    t = t.mutate(_best=ibis.ifelse(t._hold, best, ibis.null(best.type())))
    t = t.mutate(_hb=t._best.max().over(ibis.window(group_by=keys)))
    # The holder's step times: where its attempt first entered each slot.
    times = {
        f"_t{j}": t.timestamp.min(where=(t._p == j) & (t[f"_st{j}"]["s"] == t._hb["s"]))
        for j in range(1, n + 1)
    }
    agg = t.group_by(keys).aggregate(
        _dc=t._p.max(where=t._entry),
        _dx=t._p.max(where=t._shadow),
        _hp=t._hb["p"].max(),
        **times,
    )
    kept = agg.filter(
        agg._dc.notnull()
        & (agg._dx.isnull() | (agg._dx <= agg._dc))
        & (agg._hp == agg._dc).fill_null(False)
    )
    later = {f"_t{j}": ibis.ifelse(kept._dc >= j, kept[f"_t{j}"], None) for j in range(1, n + 1)}
    return kept.select(*keys, _depth=kept._dc, _entered=kept._t1, **later)


def seconds_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """``later - earlier`` in seconds (millisecond precision) on every engine."""
    return (epoch_ms(later) - epoch_ms(earlier)).cast("float64") / 1000.0


def epoch_ms(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Milliseconds since 1970 (UTC), the same on every engine."""
    # DuckDB's epoch has a fraction and Spark's does not: floor both, then add milliseconds.
    return ts.epoch_seconds().cast("float64").floor().cast("int64") * 1000 + ts.millisecond()


def _struct_type(strict: bool) -> str:
    """A slot's attempt: its start, (strict) the breaks before its entry, minus its entry
    position, the same-timestamp events it used and the time of its latest step."""
    fields = ["s: timestamp", "b: int64"] if strict else ["s: timestamp"]
    fields += ["np: int64", "mask: int64", "tl: timestamp"]
    return "struct<" + ", ".join(fields) + ">"


def _bits(flags: list[ir.BooleanValue]) -> ir.IntegerValue:
    out: ir.IntegerValue = ibis.literal(0, "int64")
    for i, flag in enumerate(flags):
        out = out + flag.cast("int64") * (1 << i)
    return out


def any_of(flags: list[ir.BooleanValue]) -> ir.BooleanValue:
    """True where any of ``flags`` is (false for none)."""
    out: ir.BooleanValue = ibis.literal(False)
    for flag in flags:
        out = out | flag
    return out


def _case(selector: ir.IntegerValue, values: dict[int, ir.Value]) -> ir.Value:
    """``values[selector]``, null for any other selector."""
    return ibis.cases(*((selector == key, value) for key, value in values.items()))
