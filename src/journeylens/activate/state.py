"""The engine's values: inputs, what it knows of a person, an instance's state and its actions.

These are the contract between the pure engine (:func:`journeylens.activate.engine.advance`) and
the runner that stores states, fires timers and dispatches actions. All are frozen pydantic
models that round-trip through JSON (``model_dump_json`` / ``model_validate_json``), so the
runner stores an :class:`InstanceState` as one JSON document.

The runner's side of the contract:

- **Instances.** One instance per (journey id, journey version, person, entry key):
  :func:`instance_id` names it. ``advance(None, input, ...)`` asks "does this input start a new
  instance?"; it returns None or a new state, whose ``entry_key`` says which instance it is
  (``"once"`` for once-only journeys; for every-time journeys the entry event's ``message_id``,
  ``segment@<time>``, ``trait@<date>`` or ``model@<scored_at>``). Feed every later event of the
  person to each of their live (``active``/``waiting``) instances.
- **Entry rules and priority** are decided from :attr:`PersonContext.instances`: give the
  summaries of the person's instances of this journey (all versions, all statuses) and their live
  instances of other journeys. Offer an input to journeys in descending ``priority`` and include
  an instance created a moment ago, so a higher-priority journey wins the person.
- **Timers.** A state holds at most one ``timer``; persist it with the state and, when due, call
  ``advance(state, TimerInput(timer_id, due_at), ...)``. A timer whose id is not the state's
  current one is stale and ignored, so the runner never has to delete timers.
- **Actions** carry an ``idempotency_key`` that is the same whenever the same step is replayed;
  store them in the outbox with a UNIQUE key and dispatch each at or after ``not_before``.
- **Frequency caps** count :attr:`PersonContext.recent_sends`: the person's messages sent or
  queued (at their ``not_before``) by any journey within the longest cap window.
- **Time.** ``now`` is the processing instant: the clock in live runs, the event's timestamp or
  the timer's ``due_at`` when replaying history (dry run), so a replay of history behaves like
  the live run did.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field

from journeylens.activate.journey import FrequencyCap, MessageChannel
from journeylens.analysis.base import Spec

__all__ = [
    "EXIT_NODE",
    "GOAL_NODE",
    "Action",
    "ActionKind",
    "DateInput",
    "EntrySummary",
    "EventInput",
    "Input",
    "InstanceState",
    "PersonContext",
    "ScoreInput",
    "SegmentInput",
    "SentRecord",
    "Status",
    "Timer",
    "TimerInput",
    "Visit",
    "instance_id",
]


#: The path's pseudo nodes for reaching the goal and for leaving the journey.
GOAL_NODE = "@goal"
EXIT_NODE = "@exit"


# ----------------------------------------------------------------------------- inputs
class EventInput(Spec):
    """An event of the person (a row of ``ws.events()``)."""

    kind: Literal["event"] = "event"
    message_id: str = Field(min_length=1)
    event: str
    timestamp: AwareDatetime
    properties: dict[str, Any] = Field(default_factory=dict)


class TimerInput(Spec):
    """A durable timer of the instance came due."""

    kind: Literal["timer"] = "timer"
    timer_id: str
    due_at: AwareDatetime


class SegmentInput(Spec):
    """The person entered (``entered=True``) or left ``segment``."""

    kind: Literal["segment"] = "segment"
    segment: str
    entered: bool


class DateInput(Spec):
    """The person's date trait ``trait`` holds ``value``; the runner offers it at least once a
    day (or schedules it with :func:`journeylens.activate.timing.next_date_occurrence`), and the
    engine enters the person when an occurrence is due (within the last day)."""

    kind: Literal["date"] = "date"
    trait: str
    value: date


class ScoreInput(Spec):
    """The person's latest score of ``model`` (from the predictions table)."""

    kind: Literal["score"] = "score"
    model: str
    score: float
    scored_at: AwareDatetime


Input = Annotated[
    EventInput | TimerInput | SegmentInput | DateInput | ScoreInput, Field(discriminator="kind")
]


# ----------------------------------------------------------------------------- the person
class SentRecord(Spec):
    """A message sent (or queued, at its ``not_before``) to the person by any journey."""

    channel: str
    sent_at: AwareDatetime


Status = Literal["active", "waiting", "converted", "exited"]


class EntrySummary(Spec):
    """One of the person's journey instances, as entry rules and priorities need it."""

    journey_id: str
    journey_version: str
    entry_key: str
    entered_at: AwareDatetime
    status: Status
    priority: int = 0


class PersonContext(Spec):
    """What the engine may know about the person: everything it needs, read by the runner.

    ``best_send_hour`` is a local hour (0-23) in ``timezone``; ``reachable`` lists the channels
    the person has an address for (None: not known, every channel counts as reachable);
    ``unsubscribed`` the channels they opted out of; ``caps`` the workspace-wide frequency caps,
    applied together with the journey's own.
    """

    person_id: str = Field(min_length=1)
    traits: dict[str, Any] = Field(default_factory=dict)
    timezone: str | None = None
    best_send_hour: int | None = Field(default=None, ge=0, le=23)
    preferred_channel: MessageChannel | None = None
    scores: dict[str, float] = Field(default_factory=dict)
    unsubscribed: frozenset[str] = frozenset()
    reachable: frozenset[str] | None = None
    recent_sends: tuple[SentRecord, ...] = ()
    instances: tuple[EntrySummary, ...] = ()
    caps: tuple[FrequencyCap, ...] = ()


# ----------------------------------------------------------------------------- the instance
class Timer(Spec):
    """The instance's one pending timer: ``wait`` (a fixed wait), ``timeout`` (of a
    ``wait_event``), ``best_hour`` or ``goal_window`` (the path ended; the goal window closes)."""

    id: str
    due_at: AwareDatetime
    kind: Literal["wait", "timeout", "best_hour", "goal_window"]


class Visit(Spec):
    """A step of the instance's path: the node, when, and what happened there.

    ``outcome`` is one of: ``waiting`` (a wait began), ``event`` / ``timeout`` / ``due`` (a wait
    ended that way), ``yes`` / ``no`` (condition split), ``branch:<i>`` (random split),
    ``channel:<c>`` / ``otherwise`` (channel split), ``sent`` (an action was emitted),
    ``holdout`` (not sent: holdout group), ``capped`` (not sent: frequency cap),
    ``unreachable`` (not sent: unsubscribed or no address), ``converted`` (the goal, node
    ``@goal``) and ``exited:<reason>`` (node ``@exit``). The two pseudo nodes start with ``@``,
    which no node id may contain.
    """

    node: str
    at: AwareDatetime
    outcome: str


class InstanceState(Spec):
    """One person's walk through one journey version.

    ``status``: ``active`` (at a node, waiting for a timer or an event), ``waiting`` (the path
    ended; held only until the goal window closes), ``converted`` (reached the goal and left)
    or ``exited`` (left by an exit rule, or finished: see ``exit_reason``). ``converted_at`` is
    set when the goal is reached even if the journey has no goal exit. ``seen`` holds the keys of
    the journey's event conditions the person met since entry. ``trigger_id`` and
    ``triggered_at`` are the entry event's ``message_id`` and timestamp (event entries only):
    events from ``triggered_at`` on count for the instance even when the runner entered it a
    little later (``entered_at`` is the processing instant).
    """

    journey_id: str
    journey_version: str
    person_id: str
    entry_key: str
    trigger_id: str | None = None
    triggered_at: AwareDatetime | None = None
    entry_properties: dict[str, Any] = Field(default_factory=dict)
    group: Literal["treatment", "holdout"]
    node: str | None
    timer: Timer | None = None
    status: Status
    entered_at: AwareDatetime
    updated_at: AwareDatetime
    step: int = 0
    path: tuple[Visit, ...] = ()
    seen: tuple[str, ...] = ()
    converted_at: AwareDatetime | None = None
    exit_reason: str | None = None

    @property
    def instance_id(self) -> str:
        """The instance's id (see :func:`instance_id`)."""
        return instance_id(self.journey_id, self.journey_version, self.person_id, self.entry_key)

    @property
    def since(self) -> datetime:
        """From when the person's events count for the instance: the trigger's timestamp, or
        the entry instant."""
        return self.entered_at if self.triggered_at is None else self.triggered_at

    @property
    def live(self) -> bool:
        """Whether the instance still reacts to inputs (``active`` or ``waiting``)."""
        return self.status in ("active", "waiting")

    def summary(self, priority: int) -> EntrySummary:
        """The instance as entry rules see it, with its journey's ``priority``.

        Returns:
            An :class:`EntrySummary` of this instance.
        """
        return EntrySummary(
            journey_id=self.journey_id,
            journey_version=self.journey_version,
            entry_key=self.entry_key,
            entered_at=self.entered_at,
            status=self.status,
            priority=priority,
        )


ActionKind = Literal["message", "webhook", "update_traits", "add_to_segment"]


class Action(Spec):
    """Something the runner must do for a person, exactly once.

    ``idempotency_key``: 64 hex digits of SHA-256 over journey id, version, person, entry key,
    node id and step: the same whenever the same step is replayed. ``channel``: the message
    channel for ``message``, ``"webhook"`` for webhooks, None otherwise. ``payload``: for a
    message ``template``, ``subject``, ``body``, ``url``, ``data`` and ``entry_properties``; for
    a webhook ``url``, ``method``, ``body``; ``traits``; or ``segment``. ``not_before``: UTC, quiet
    hours already applied; dispatch at or after it.
    """

    idempotency_key: str
    kind: ActionKind
    channel: str | None
    person_id: str
    journey_id: str
    journey_version: str
    entry_key: str
    node_id: str
    payload: dict[str, Any]
    not_before: AwareDatetime


def instance_id(journey_id: str, journey_version: str, person_id: str, entry_key: str) -> str:
    """The id of the one instance of (journey version, person, entry key): 32 hex digits.

    >>> instance_id("cart", "abc", "p1", "once") == instance_id("cart", "abc", "p1", "once")
    True
    """
    return digest(journey_id, journey_version, person_id, entry_key)[:32]


def digest(*parts: str) -> str:
    """SHA-256 (hex) of the parts, separated so that ("ab", "c") differs from ("a", "bc")."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
