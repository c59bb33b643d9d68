"""Funnels whose steps need not come in order: ``unordered`` (PostHog), ``open`` and
``hybrid`` (Retentioneering).

Unordered: PostHog keeps one queue of candidate events per step, drops events older than the
window before the newest one, and counts the non-empty queues; an exclusion empties them all.
So the steps completed at an event are the distinct steps seen in the window ending at it,
since the last exclusion (events of the exclusion's own timestamp are kept): a range window
per unit and "exclusion epoch". The best is the first event where the most steps are seen;
its timings are the gaps between the sorted first events of each step in that window.
An event matching several steps counts for each of them here (PostHog puts it in one queue).

Open: each step counts for a unit that did it at all. Hybrid: step 1 as in open, and each
later step when the unit did it at or after its first step-1 event. Neither has a window.
"""

from __future__ import annotations

from datetime import timedelta

import ibis
import ibis.expr.types as ir

from journeylens.analysis.funnel_engine import any_of, epoch_ms
from journeylens.analysis.funnel_prepare import Prepared

__all__ = ["open_units", "unordered_units"]


def unordered_units(prep: Prepared, window: timedelta) -> ir.Table:
    """One row per unit (and value) that did any step.

    Returns:
        Table with the keys, ``_depth`` (most distinct steps inside one window), ``_entered``
        (the first step event of that window) and ``_s2``…``_sN``: the gaps (seconds) between
        the sorted first events of the steps seen (``_sk`` ends at the k-th), null past
        ``_depth``.
    """
    n, keys = prep.n, list(prep.keys)
    t = prep.table
    guard = t._g1 if n > 1 else ibis.literal(False)
    t = t.mutate(_ms=epoch_ms(t.timestamp), _ex=guard.cast("int64"))
    epoch = ibis.range_window(group_by=keys, order_by=t._ms, preceding=None, following=0)
    t = t.mutate(_epoch=t._ex.sum().over(epoch))
    span = ibis.range_window(
        group_by=[*keys, "_epoch"],
        order_by=t._ms,
        preceding=int(window.total_seconds() * 1000),
        following=0,
    )
    fronts = {
        f"_f{k}": ibis.ifelse(t[f"_m{k}"] & t._vm if k == 1 else t[f"_m{k}"], t._ms, None)
        .min()
        .over(span)
        for k in range(1, n + 1)
    }
    earliest = ibis.ifelse(any_of([t[f"_m{k}"] for k in range(1, n + 1)]), t.timestamp, None)
    t = t.mutate(**fronts, _e=earliest.min().over(span))
    is_step = any_of([t[f"_m{k}"] for k in range(1, n + 1)])
    seen = ibis.array([t[f"_f{k}"] for k in range(1, n + 1)]).filter(lambda x: x.notnull())
    t = t.mutate(_seen=seen.sort(), _count=seen.length())
    best = ibis.struct({"c": t._count, "nt": -t._ms, "f": t._seen, "e": t._e})
    t = t.mutate(_best=ibis.ifelse(is_step & (t._count > 0), best, ibis.null(best.type())))
    agg = t.group_by(keys).aggregate(_h=t._best.max())
    agg = agg.filter(agg._h.notnull())
    fronts_ms = agg._h["f"]
    gaps = {}
    for j in range(1, n):
        later = fronts_ms[j]
        gaps[f"_s{j + 1}"] = ibis.ifelse(
            fronts_ms.length() > j, (later - fronts_ms[j - 1]).cast("float64") / 1000.0, None
        )
    return agg.select(*keys, _depth=agg._h["c"], _entered=agg._h["e"], **gaps)


def open_units(prep: Prepared, *, hybrid: bool) -> ir.Table:
    """One row per unit (and value) that did any step.

    Returns:
        Table with the keys, ``_r1``…``_rN`` (the step counts for the unit, see the module
        doc) and ``_entered`` (its first step-1 event, null without one).
    """
    n, keys = prep.n, list(prep.keys)
    t = prep.table
    first = t.timestamp.min(where=t._m1 & t._vm).over(ibis.window(group_by=keys))
    t = t.mutate(_first=first)
    reached = {"_r1": (t._m1 & t._vm).any()}
    for k in range(2, n + 1):
        hit = t[f"_m{k}"]
        if hybrid:
            hit = hit & (t.timestamp >= t._first).fill_null(False)
        reached[f"_r{k}"] = hit.any()
    agg = t.group_by(keys).aggregate(_entered=t._first.min(), **reached)
    return agg
