"""A plain-Python reference of PostHog's per-unit funnel algorithm, used only by the tests.

It walks one unit's events the way PostHog's funnel UDF does (see the reference notes, "How
PostHog computes funnels at scale"): one slot per step holding the attempt that sits there,
the newest first-step event starting a fresh attempt, events of one timestamp grouped, an
event's steps visited from the highest down, exclusions marking the waiting attempt, strict
funnels clearing the slots an event does not match, and the best attempt (the first that got
furthest) giving the timings. It is written for clarity, not speed: the engine must agree
with it on random small tables.

Events are ``OracleEvent(ts, uid, steps)``: ``steps`` uses PostHog's encoding, step
``k`` (1-based) as ``k`` and an exclusion guarding the attempt that reached ``i`` steps as
``-(i + 1)``, listed steps first in ascending order, then exclusions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import groupby, pairwise

__all__ = ["OracleEvent", "ordered_unit", "steps_array", "unordered_unit"]


@dataclass(frozen=True)
class OracleEvent:
    ts: float
    uid: int
    steps: tuple[int, ...]


@dataclass
class _Attempt:
    start: float | None = None
    excluded: bool = False
    times: list[float] = field(default_factory=list)
    uids: list[int] = field(default_factory=list)


def steps_array(matches: list[bool], guards: list[bool]) -> tuple[int, ...]:
    """PostHog's step array from step matches and exclusion guards (``guards[i-1]``: the
    event is forbidden while an attempt that reached ``i`` steps waits for the next)."""
    positive = [k + 1 for k, hit in enumerate(matches) if hit]
    negative = [-(i + 1) for i, hit in enumerate(guards, start=1) if hit]
    return tuple(positive + negative)


def ordered_unit(
    events: list[OracleEvent],
    num_steps: int,
    window: float,
    *,
    strict: bool = False,
) -> tuple[int, list[float]]:
    """Steps reached (0 = not in the funnel, -1 = excluded) and the gaps of the best attempt."""
    slots = [_Attempt() for _ in range(num_steps + 1)]
    best: tuple[int, _Attempt] = (0, _Attempt())

    def process(event: OracleEvent, several: bool) -> None:
        nonlocal best
        for code in reversed(event.steps):
            exclusion, step = code < 0, abs(code)
            prev = slots[step - 1]
            in_window = prev.start is not None and event.ts - prev.start <= window
            reached = slots[step].start is not None and slots[step].start == prev.start
            if not in_window or reached:
                continue
            if exclusion:
                if not prev.excluded:
                    prev.excluded = True
                    if best[0] == step - 1 and event.ts - best[1].start <= window:
                        best[1].excluded = True
                continue
            if several and event.uid in prev.uids:
                continue
            new = _Attempt(
                prev.start, prev.excluded, [*prev.times, event.ts], [*prev.uids, event.uid]
            )
            if not prev.excluded:
                slots[step] = replace(new, times=list(new.times), uids=list(new.uids))
            if step > best[0] or (step == best[0] and best[1].excluded):
                best = (step, new)
        if strict and not several:
            for i in range(1, num_steps + 1):
                if i not in event.steps:
                    slots[i] = _Attempt()

    ordered = sorted(events, key=lambda e: (e.ts, e.uid))
    for ts, group_iter in groupby(ordered, key=lambda e: e.ts):
        group = list(group_iter)
        slots[0] = _Attempt(ts)
        if len({e.steps for e in group}) == 1:
            for event in group:
                process(event, False)
        else:
            pairs = sorted(
                ((code, e) for e in group for code in e.steps if code > 0), key=lambda p: p[0]
            )
            for code, event in pairs:
                process(replace(event, steps=(code,)), True)
        if slots[num_steps].start is not None:
            break
    depth, attempt = best
    if attempt.excluded:
        return -1, []
    return depth, [b - a for a, b in pairwise(attempt.times)]


def unordered_unit(
    events: list[OracleEvent], num_steps: int, window: float
) -> tuple[int, list[float]]:
    """Unordered funnel of one unit, each event matching at most one step.

    One queue per step; a new event joins its step's queue; events older than ``window``
    before it leave (oldest first); an exclusion empties every queue (events of its own
    timestamp are kept). The best is the first moment the most queues are non-empty; its
    timings are the gaps between the sorted fronts of the queues.
    """
    queues: list[list[float]] = [[] for _ in range(num_steps)]
    best: tuple[int, list[float]] = (0, [])
    ordered = sorted(events, key=lambda e: (e.ts, e.uid))
    for ts, group_iter in groupby(ordered, key=lambda e: e.ts):
        group = list(group_iter)
        if any(all(code < 0 for code in e.steps) for e in group):
            queues = [[] for _ in range(num_steps)]
        for event in group:
            codes = [c for c in event.steps if c > 0]
            if not codes:
                continue
            queues[codes[0] - 1].append(event.ts)
            for queue in queues:
                while queue and ts - queue[0] > window:
                    queue.pop(0)
            fronts = sorted(q[0] for q in queues if q)
            if len(fronts) > best[0]:
                best = (len(fronts), [b - a for a, b in pairwise(fronts)])
    return best
