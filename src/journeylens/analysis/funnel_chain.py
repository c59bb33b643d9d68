"""The ordered funnel over distinct step events, step by step: one running maximum per step.

When no event can match two steps (every step and exclusion a different named event), PostHog's
per-unit walk (see ``tests/analysis/funnel_oracle.py``) collapses to a chain of sets. Call a
*success at k* a step-k event that moved a clean attempt into slot k, and its *start* that
attempt's first-step time:

- The slot only ever takes a later start (it copies slot k-1, which holds the latest start
  that reached k-1), so the attempt waiting in slot k-1 at an event is the success at k-1
  with the largest start so far, and every time it carries (its entry into each slot) is the
  largest so far too. Step-1 events are successes at 1, starting at their own time.
- A step-k event succeeds when that start is within the window and no exclusion guarding
  slot k-1 came after the attempt entered it (an exclusion there between the entry and the
  event is always inside the window, because the event is). With an exclusion in the way it
  is still a *reach* at k, by an excluded attempt, which only matters for the depth.
- Same-timestamp events of different steps chain by step (successes at k-1 sort before
  step-k events of the same instant); an exclusion sharing its instant with a step event, or
  with an exclusion guarding other steps, is ignored, as PostHog ignores it.

So each step is one window pass over the successes at k-1, the exclusions guarding k-1 and
the step-k events, ordered by (unit, time, successes first), keeping plain running maxima of
timestamps. A start that succeeds more than once keeps its first success (a group-by), as
PostHog's "already reached" test does.

The unit's depth is the furthest reach, clean or not. It is kept when some success at that
depth *survives* (no exclusion guarding that depth comes after it inside its window); the
first survivor holds the timings. That is PostHog's "best so far" handover: a clean best
caught by an exclusion is replaced by the next attempt to get as far, and the first survivor
is never caught. Exclusions never guard the last step, and the walk stops at the first
success there.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeylens.analysis.funnel_prepare import Prepared
from journeylens.analysis.funnel_spec import FunnelSpec

__all__ = ["chain_units"]


def chain_units(prep: Prepared, spec: FunnelSpec) -> ir.Table:
    """One row per unit (and value) that entered the funnel and was not excluded, for an
    ordered funnel whose steps and exclusions are distinct events (``spec.distinct_ordered``).

    Returns:
        Table with the partition keys, ``_depth`` (steps reached, 1..N), ``_entered`` (time of
        the best attempt's first step) and ``_t1``…``_tN`` (times of its steps, null past
        ``_depth``) — the same table as :func:`~journeylens.analysis.funnel_engine.ordered_units`.
    """
    n, w = prep.n, ibis.interval(seconds=int(spec.window.total_seconds()))
    # The slots i some exclusion guards (an attempt that reached i steps may not meet it).
    guarded = [i for i in range(1, n) if any(x.from_step < i <= x.to_step for x in spec.exclusions)]
    t = prep.table
    # The passes partition by the unit's own text: renumbering units first costs a second scan
    # of the events, more than the cheaper integer sorts win back (measured at 10M and 100M).
    keys = list(prep.keys)
    t = t.select(
        *keys,
        "timestamp",
        *(["_vm"] if prep.attributed_step is not None else []),
        _k=ibis.cases(*((t[f"_m{k}"], k) for k in range(1, n + 1)), else_=0),
        **{f"_g{i}": t[f"_g{i}"] for i in guarded},
    )
    guards = _guarding(t, keys, guarded) if guarded else {}

    def steps(k: int) -> ir.Table:
        rows = t.filter(t._k == k)
        if k - 1 == prep.attributed_step:
            rows = rows.filter(rows._vm)
        return rows

    first = steps(1)
    chain = first.select(*keys, "timestamp", _t1=first.timestamp)
    records = []
    for k in range(2, n + 1):
        chain, done, reaches = _advance(chain, steps(k), guards.get(k - 1), keys, k, n, w)
        records += [done, reaches] if reaches is not None else [done]
    records.append(_record(chain, keys, n, n, ok=True))
    held = _holders(ibis.union(*records), keys, n)
    return held


def _guarding(t: ir.Table, keys: list[str], guarded: list[int]) -> dict[int, ir.Table]:
    """Per guarded slot i, the exclusion events PostHog acts on: those alone at their instant
    (other events of the same instant matching the same steps and exclusions are fine)."""
    sig = ibis.ifelse(t._k > 0, t._k, -_bits([t[f"_g{i}"] for i in guarded]))
    rows = t.mutate(_sig=sig)
    excl = rows.filter(rows._k == 0)
    at = [*keys, "timestamp"]
    near = rows.select(*at, _osig="_sig")
    alone = excl.anti_join(
        near, [*(excl[c] == near[c] for c in at), excl._sig != near._osig]
    ).select(*keys, "timestamp", *(f"_g{i}" for i in guarded))
    return {i: alone.filter(alone[f"_g{i}"]).select(*keys, "timestamp") for i in guarded}


def _advance(
    chain: ir.Table,
    steps: ir.Table,
    guards: ir.Table | None,
    keys: list[str],
    k: int,
    n: int,
    w: ir.IntervalScalar,
) -> tuple[ir.Table, ir.Table, ir.Table | None]:
    """One step: the successes at k (first success of each start), the successes at k-1 with
    whether they survive, and (with exclusions) the reaches at k of excluded attempts."""
    times = [f"_t{j}" for j in range(1, k)]
    tt = steps.timestamp.type()
    none = {c: ibis.null(tt) for c in times}
    parts = [
        chain.select(*keys, "timestamp", *times, _o=ibis.literal(0), _x=ibis.null(tt)),
        steps.select(*keys, "timestamp", **none, _o=ibis.literal(1), _x=ibis.null(tt)),
    ]
    if guards is not None:
        parts.append(guards.select(*keys, "timestamp", **none, _o=ibis.literal(0), _x="timestamp"))
    u = ibis.union(*parts)
    before = ibis.window(group_by=keys, order_by=["timestamp", "_o"], rows=(None, 0))
    run = {c: u[c].max().over(before) for c in times}
    if guards is not None:
        after = ibis.window(group_by=keys, order_by=["timestamp", "_o"], rows=(1, None))
        run |= {"_lx": u._x.max().over(before), "_nx": u._x.min().over(after)}
    u = u.mutate(**{f"_r{c}": v for c, v in run.items()})
    start, entry = u._r_t1, u[f"_r_t{k - 1}"]
    reach = (u._o == 1) & start.notnull() & (u.timestamp <= start + w)
    # An exclusion after the attempt entered slot k-1 has excluded it.
    caught = (u._r_lx > entry).fill_null(False) if guards is not None else ibis.literal(False)
    done = u.filter((u._o == 0) & u._t1.notnull())
    # A success at k-1 survives when no exclusion guarding k-1 follows inside its window.
    ok = done._r_nx.isnull() | (done._r_nx > done._t1 + w) if guards is not None else True
    done = _record(done, keys, k - 1, n, ok=ok)
    won = u.filter(reach & ~caught)
    nxt = won.group_by([*keys, won._r_t1.name("_t1")]).aggregate(
        **{f"_t{j}": won[f"_r_t{j}"].min() for j in range(2, k)}, **{f"_t{k}": won.timestamp.min()}
    )
    nxt = nxt.mutate(timestamp=nxt[f"_t{k}"])
    reaches = None
    if guards is not None:
        reaches = _record(u.filter(reach & caught), keys, k, n, ok=False, times=0)
    return nxt, done, reaches


def _record(
    rows: ir.Table,
    keys: list[str],
    depth: int,
    n: int,
    *,
    ok: ir.BooleanValue | bool,
    times: int | None = None,
) -> ir.Table:
    """Rows of the per-unit summary: keys, ``_d`` (the depth reached), ``_ok`` (a surviving
    success there) and the attempt's step times ``_t1``…``_tN`` (its first ``times``, by
    default ``depth``; the rest null)."""
    kept = depth if times is None else times
    tt = rows.timestamp.type()
    return rows.select(
        *keys,
        _d=ibis.literal(depth, "int64"),
        _ok=ibis.literal(ok) if isinstance(ok, bool) else ok,
        **{f"_t{j}": rows[f"_t{j}"] if j <= kept else ibis.null(tt) for j in range(1, n + 1)},
    )


def _holders(records: ir.Table, keys: list[str], n: int) -> ir.Table:
    """Depth per unit and the first surviving success there; units without one are dropped."""
    r = records
    aggs: dict[str, ir.Value] = {"_depth": r._d.max()}
    for d in range(1, n + 1):
        here = r._ok & (r._d == d)
        aggs[f"_h{d}"] = here.any()
        # Along the successes at one depth every step time only grows: the first survivor
        # has the smallest of each.
        aggs |= {f"_h{d}_{j}": r[f"_t{j}"].min(where=here) for j in range(1, d + 1)}
    a = r.group_by(keys).aggregate(**aggs)
    a = a.filter(_case(a._depth, {d: a[f"_h{d}"] for d in range(1, n + 1)}).fill_null(False))
    times = {
        f"_t{j}": _case(a._depth, {d: a[f"_h{d}_{j}"] for d in range(j, n + 1)})
        for j in range(1, n + 1)
    }
    return a.select(*keys, _depth=a._depth, _entered=times["_t1"], **times)


def _case(selector: ir.IntegerValue, values: dict[int, ir.Value]) -> ir.Value:
    """``values[selector]``, null for any other selector."""
    return ibis.cases(*((selector == key, value) for key, value in values.items()))


def _bits(flags: list[ir.BooleanValue]) -> ir.IntegerValue:
    out: ir.IntegerValue = ibis.literal(0, "int64")
    for i, flag in enumerate(flags):
        out = out + flag.cast("int64") * (1 << i)
    return out
