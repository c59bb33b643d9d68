"""Replay one person's history through one journey in memory: the engine with a virtual clock.

The runner moves instances with a real clock and a store; :func:`replay` does the same walk
purely, for one person: inputs in time order, each timer fired exactly at its ``due_at`` when it
comes before the next input, ``now`` always the virtual time. It is what a dry run of a journey
over past events means, and the expected outcome a live run must match (every due action once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from journeylens.activate.engine import advance
from journeylens.activate.journey import Journey
from journeylens.activate.state import (
    Action,
    EventInput,
    Input,
    InstanceState,
    PersonContext,
    SentRecord,
    TimerInput,
)
from journeylens.activate.timing import check_instant

__all__ = ["Replay", "replay"]


@dataclass(frozen=True)
class Replay:
    """What one person's replay produced.

    ``instances``: every instance in order of entry, in its final state. ``actions``: every
    action emitted, in the order the engine emitted them.
    """

    instances: tuple[InstanceState, ...]
    actions: tuple[Action, ...]


def replay(
    journey: Journey,
    person: PersonContext,
    inputs: Iterable[EventInput | tuple[datetime, Input]],
    *,
    until: datetime,
) -> Replay:
    """Feed ``inputs`` (events at their timestamp, or ``(at, input)`` pairs) to ``journey`` in
    time order, firing due timers in between and after, up to ``until``.

    The person's ``instances`` and ``recent_sends`` grow as the replay enters them and emits
    messages (a message counts at its ``not_before``), so entry rules and caps apply as live.

    Returns:
        A :class:`Replay`.

    >>> from datetime import UTC
    >>> j = Journey.model_validate({"id": "hi", "name": "Hi", "start": "w", "holdout_share": 0,
    ...     "entry": {"kind": "event", "event": "Signed Up"},
    ...     "nodes": {"w": {"kind": "wait", "duration": "1d", "next": "m"},
    ...               "m": {"kind": "send", "channel": "email", "body": "Day two"}}})
    >>> t = datetime(2026, 1, 5, 12, tzinfo=UTC)
    >>> out = replay(j, PersonContext(person_id="p"),
    ...     [EventInput(message_id="1", event="Signed Up", timestamp=t)], until=t.replace(day=9))
    >>> [a.not_before.day for a in out.actions], out.instances[0].status
    ([6], 'exited')
    """
    until = check_instant(until, "until")
    timed = sorted(
        ((i.timestamp, i) if isinstance(i, EventInput) else i for i in inputs),
        key=lambda pair: (check_instant(pair[0], "input time"), _order(pair[1])),
    )
    states: list[InstanceState] = []
    actions: list[Action] = []

    def context() -> PersonContext:
        mine = tuple(s.summary(journey.priority) for s in states)
        sent = tuple(
            SentRecord(channel=a.channel, sent_at=a.not_before)
            for a in actions
            if a.kind == "message" and a.channel is not None
        )
        return person.model_copy(
            update={
                "instances": (*person.instances, *mine),
                "recent_sends": (*person.recent_sends, *sent),
            }
        )

    def fire_timers(before: datetime, *, inclusive: bool) -> None:
        while True:
            due = [
                (s.timer.due_at, i)
                for i, s in enumerate(states)
                if s.live
                and s.timer is not None
                and (s.timer.due_at <= before if inclusive else s.timer.due_at < before)
            ]
            if not due:
                return
            at, index = min(due)
            state = states[index]
            assert state.timer is not None
            tick = TimerInput(timer_id=state.timer.id, due_at=state.timer.due_at)
            states[index], emitted = advance(state, tick, journey, at, context())
            actions.extend(emitted)

    for at, inp in timed:
        if at > until:
            break
        # A timer due at the very instant of an input fires first: the wait was over.
        fire_timers(at, inclusive=True)
        for index, state in enumerate(states):
            if state.live:
                states[index], emitted = advance(state, inp, journey, at, context())
                actions.extend(emitted)
        entered, emitted = advance(None, inp, journey, at, context())
        if entered is not None:
            states.append(entered)
            actions.extend(emitted)
    fire_timers(until, inclusive=True)
    return Replay(instances=tuple(states), actions=tuple(actions))


def _order(inp: Input) -> str:
    # Inputs at the same instant go in a fixed order so the replay is deterministic.
    return inp.message_id if isinstance(inp, EventInput) else inp.kind
