"""A dry run: what a journey would have done over the workspace's history, sending nothing.

The stored events from ``since`` to ``until`` go through the pure engine in time order, each at
its own timestamp, with timers fired at their due times: a faithful replay of how the runner
would have walked people through the journey had it been live then. Nothing is stored and
nothing is sent; the result counts entries, the actions each node would have sent, and goals.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from datetime import datetime
from typing import Any

from journeylens.activate.context import person_context, read_people
from journeylens.activate.engine import advance
from journeylens.activate.journey import Journey
from journeylens.activate.runner import relevant_events
from journeylens.activate.state import EntrySummary, EventInput, SentRecord, TimerInput
from journeylens.workspace import Workspace

__all__ = ["dry_run"]


def dry_run(
    ws: Workspace,
    journey: Journey,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Replay the events with timestamps in [``since``, ``until``) through ``journey``.

    Timers due at or after ``until`` do not fire; with no ``until``, every path runs to its
    end (what the journey would have done with these people, however long it takes).

    Returns:
        ``journey_id``, ``version``, ``since``, ``until`` (ISO text or None), ``events`` (events of
        the names the journey reacts to), ``entries`` (instances started), ``holdout``
        (instances in the holdout), ``actions`` (by node: ``{node_id: count}``),
        ``by_channel`` (``{channel: count}``), ``converted`` (instances that reached the
        goal), ``conversion_rate`` (converted ÷ entries; None without entries), ``live``
        (instances still running at ``until``; 0 without one).
    """
    events = ws.events()
    chosen = events.filter(
        events.event.isin(sorted(relevant_events([journey]))), events.person_id.notnull()
    )
    if since is not None:
        chosen = chosen.filter(chosen.timestamp >= since)
    if until is not None:
        chosen = chosen.filter(chosen.timestamp < until)
    rows = (
        chosen.select(
            "message_id",
            "event",
            "timestamp",
            "person_id",
            properties=chosen.properties.cast("string"),
        )
        .to_pyarrow()
        .to_pylist()
    )
    end = until
    facts = read_people(ws, {r["person_id"] for r in rows})
    queue: list[tuple[datetime, int, str, Any]] = [
        (r["timestamp"], 1, r["message_id"], r) for r in rows
    ]
    heapq.heapify(queue)
    states: dict[str, Any] = {}
    mine: dict[str, dict[str, Any]] = {}  # person -> their instances, to find them fast
    summaries: dict[str, dict[str, EntrySummary]] = {}
    sends: dict[str, list[SentRecord]] = {}
    actions: Counter[str] = Counter()
    channels: Counter[str] = Counter()

    def step(pid: str, state: Any, inp: Any, at: datetime) -> None:
        context = person_context(
            facts[pid],
            at,
            recent_sends=sends.get(pid, ()),
            instances=list(summaries.get(pid, {}).values()),
        )
        new, emitted = advance(state, inp, journey, at, context)
        if new is None or new is state:
            return
        states[new.instance_id] = mine.setdefault(pid, {})[new.instance_id] = new
        summaries.setdefault(pid, {})[new.instance_id] = new.summary(journey.priority)
        if new.timer is not None and (end is None or new.timer.due_at < end):
            timer = TimerInput(timer_id=new.timer.id, due_at=new.timer.due_at)
            heapq.heappush(queue, (new.timer.due_at, 0, new.instance_id, timer))
        for action in emitted:
            actions[action.node_id] += 1
            channels[action.channel or action.kind] += 1
            if action.kind == "message" and action.channel:
                sends.setdefault(pid, []).append(
                    SentRecord(channel=action.channel, sent_at=action.not_before)
                )

    while queue:
        at, rank, key, item = heapq.heappop(queue)
        if rank == 0:
            state = states[key]
            step(state.person_id, state, item, max(at, state.updated_at))
            continue
        pid = item["person_id"]
        inp = EventInput(
            message_id=key,
            event=item["event"],
            timestamp=at,
            properties=_properties(item["properties"]),
        )
        for state in [s for s in mine.get(pid, {}).values() if s.live]:
            step(pid, state, inp, max(at, state.updated_at))
        step(pid, None, inp, at)
    entries = len(states)
    converted = sum(1 for s in states.values() if s.converted_at is not None)
    return {
        "journey_id": journey.id,
        "version": journey.content_hash,
        "since": since.isoformat() if since else None,
        "until": end.isoformat() if end else None,
        "events": len(rows),
        "entries": entries,
        "holdout": sum(1 for s in states.values() if s.group == "holdout"),
        "actions": dict(actions),
        "by_channel": dict(channels),
        "converted": converted,
        "conversion_rate": converted / entries if entries else None,
        "live": sum(1 for s in states.values() if s.live),
    }


def _properties(text: str | None) -> dict[str, Any]:
    found = json.loads(text) if text else {}
    return found if isinstance(found, dict) else {}
