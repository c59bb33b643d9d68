"""The journey definition: one frozen model for the YAML/JSON file, the Python API and the API.

A journey is a graph of nodes a person walks through after an entry trigger::

    id: cart-abandonment
    name: Cart abandonment
    entry: {kind: event, event: Product Added}
    start: wait-purchase
    nodes:
      wait-purchase: {kind: wait_event, event: Order Completed, timeout: 2h,
                      next: null, timeout_next: push}
      push: {kind: send, channel: web_push, body: "Your cart misses you", next: ...}
    goal: {event: Order Completed, within: 7d}

Entry triggers (``entry.kind``): ``event`` (an event, with property filters), ``segment``
(entering a segment: a saved segment's name, or a rule carried in the journey), ``date`` (a date
trait such as ``birthday`` or ``subscription_end``, shifted by ``offset_days``) and ``score`` (a
predicted score, e.g. ``churn`` >= 0.7).

The nodes (waits, splits, actions) are defined in :mod:`journeylens.activate.nodes` and
re-exported here, so one import gives the whole definition.

A journey's *version* is content-addressed: :attr:`Journey.content_hash` hashes everything but the
free-text ``version`` label, so editing a live journey yields a new version while running
instances stay on theirs. Graph checks (unknown or unreachable nodes, cycles without a wait,
bad time zones) run when the model is built and name the node and the fix; :func:`parse_journey`
and :func:`load_journey` turn them into one :class:`~journeylens.errors.ValidationError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
import yaml
from pydantic import Field, field_validator, model_validator

from journeylens.activate.nodes import (
    MESSAGE_CHANNELS,
    WAIT_KINDS,
    AddToSegmentNode,
    ChannelSplitNode,
    ConditionSplitNode,
    EventSeenCondition,
    MessageChannel,
    Node,
    NodeId,
    RandomBranch,
    RandomSplitNode,
    ScoreCondition,
    SendNode,
    SplitCondition,
    TraitCondition,
    UpdateTraitsNode,
    WaitBestHourNode,
    WaitEventNode,
    WaitNode,
    WebhookNode,
    successors,
)
from journeylens.analysis.base import DurationField, Spec
from journeylens.analysis.filters import PropertyFilter
from journeylens.analysis.segments import Condition
from journeylens.errors import SourceError, ValidationError

__all__ = [
    "MESSAGE_CHANNELS",
    "WAIT_KINDS",
    "AddToSegmentNode",
    "ChannelSplitNode",
    "ConditionSplitNode",
    "DateEntry",
    "Entry",
    "EntryRule",
    "EventEntry",
    "EventExit",
    "EventSeenCondition",
    "EveryTime",
    "ExitRule",
    "FrequencyCap",
    "Goal",
    "GoalExit",
    "Journey",
    "MessageChannel",
    "Node",
    "Once",
    "QuietHours",
    "RandomBranch",
    "RandomSplitNode",
    "ScoreCondition",
    "ScoreEntry",
    "SegmentEntry",
    "SegmentLeftExit",
    "SendNode",
    "SplitCondition",
    "TraitCondition",
    "UpdateTraitsNode",
    "WaitBestHourNode",
    "WaitEventNode",
    "WaitNode",
    "WebhookNode",
    "load_journey",
    "parse_journey",
    "successors",
]


# ----------------------------------------------------------------------------- entry triggers
class EventEntry(Spec):
    """Enter when the person does ``event`` and every filter holds (event or person properties)."""

    kind: Literal["event"] = "event"
    event: str = Field(min_length=1)
    filters: tuple[PropertyFilter, ...] = ()


class SegmentEntry(Spec):
    """Enter when the person enters ``segment``: a saved segment's name, or, with ``rule``, the
    name this journey gives its own rule (the runner evaluates it like a saved segment)."""

    kind: Literal["segment"] = "segment"
    segment: str = Field(min_length=1)
    rule: Condition | None = None


class DateEntry(Spec):
    """Enter ``offset_days`` after (negative: before) the date in trait ``trait``, at ``hour``
    local time; ``annual`` repeats it every year (a birthday), otherwise it happens once (a
    subscription end). A 29 February falls on 28 February in other years."""

    kind: Literal["date"] = "date"
    trait: str = Field(min_length=1)
    offset_days: int = Field(default=0, ge=-366, le=366)
    annual: bool = False
    hour: int = Field(default=9, ge=0, le=23)


class ScoreEntry(Spec):
    """Enter when the person's latest score of ``model`` (a predictions model such as ``churn``)
    is at least ``at_least``."""

    kind: Literal["score"] = "score"
    model: str = Field(min_length=1)
    at_least: float


Entry = Annotated[EventEntry | SegmentEntry | DateEntry | ScoreEntry, Field(discriminator="kind")]


class Once(Spec):
    """A person enters the journey (any version) at most once."""

    kind: Literal["once"] = "once"


class EveryTime(Spec):
    """A person enters on every trigger, at least ``min_gap`` after their previous entry."""

    kind: Literal["every_time"] = "every_time"
    min_gap: DurationField


EntryRule = Annotated[Once | EveryTime, Field(discriminator="kind")]


# ----------------------------------------------------------------------------- goal, exits, rules
class Goal(Spec):
    """The journey's goal: the person does ``event`` (with filters) within ``within`` of entry."""

    event: str = Field(min_length=1)
    filters: tuple[PropertyFilter, ...] = ()
    within: DurationField


class GoalExit(Spec):
    """Leave the journey when the goal is reached."""

    kind: Literal["goal"] = "goal"


class EventExit(Spec):
    """Leave the journey when the person does ``event`` (e.g. ``Unsubscribed``)."""

    kind: Literal["event"] = "event"
    event: str = Field(min_length=1)
    filters: tuple[PropertyFilter, ...] = ()


class SegmentLeftExit(Spec):
    """Leave the journey when the person leaves ``segment``."""

    kind: Literal["segment_left"] = "segment_left"
    segment: str = Field(min_length=1)


ExitRule = Annotated[GoalExit | EventExit | SegmentLeftExit, Field(discriminator="kind")]


class QuietHours(Spec):
    """No message goes out between ``start`` and ``end`` local time (the window may span
    midnight); a message due inside it is held until ``end``."""

    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _text_time(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted 21:00 as the number 1260 (base 60); refuse numbers rather
        # than guess.
        if isinstance(value, int | float):
            raise ValueError("write quiet hours as quoted local times, e.g. start: '21:00'")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("quiet hours start and end are equal; give a window like 21:00-08:00")
        return self


class FrequencyCap(Spec):
    """At most ``limit`` messages on ``channel`` (``any``: all channels together) per ``per``,
    counting every journey's sends to the person."""

    channel: MessageChannel | Literal["any"] = "any"
    limit: int = Field(ge=1)
    per: DurationField


# ----------------------------------------------------------------------------- the journey
class Journey(Spec):
    """A versioned journey definition (see the module docstring for the format).

    >>> j = Journey.model_validate({"id": "hello", "name": "Hello", "start": "mail",
    ...     "entry": {"kind": "event", "event": "Signed Up"},
    ...     "nodes": {"mail": {"kind": "send", "channel": "email", "body": "Welcome"}}})
    >>> len(j.content_hash)
    16
    """

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1)
    version: str | None = None
    description: str | None = None
    entry: Entry
    entry_rule: EntryRule = Once()
    nodes: dict[NodeId, Node] = Field(min_length=1)
    start: NodeId
    goal: Goal | None = None
    exits: tuple[ExitRule, ...] = ()
    holdout_share: float = Field(default=0.1, ge=0, lt=1)
    priority: int = 0
    quiet_hours: QuietHours | None = None
    frequency_caps: tuple[FrequencyCap, ...] = ()
    timezone_default: str = "UTC"

    @cached_property
    def content_hash(self) -> str:
        """The version id: 16 hex digits of SHA-256 over the canonical JSON of everything but
        the free-text ``version`` label."""
        body = self.model_dump(mode="json", exclude={"version"})
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def __hash__(self) -> int:
        # The nodes are a dict, which pydantic's field hash cannot take; the content is the id.
        return hash(self.content_hash)

    @model_validator(mode="before")
    @classmethod
    def _default_exits(cls, data: Any) -> Any:
        # Left out, the exits are "leave on reaching the goal" when there is a goal, none
        # otherwise; written into the data, so a dumped journey validates again as it is.
        if isinstance(data, dict) and "exits" not in data:
            data = {**data, "exits": [] if data.get("goal") is None else [{"kind": "goal"}]}
        return data

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, a new definition, validated and versioned as one (pydantic's
        copy would skip the checks and carry the cached ``content_hash`` over)."""
        if not update:
            return super().model_copy(deep=deep)
        return type(self).model_validate({**self.model_dump(), **update})

    @model_validator(mode="after")
    def _graph_is_sound(self) -> Self:
        _check_zone(self.timezone_default)
        _check_links(self)
        _check_reachable(self)
        _check_cycles(self)
        if any(isinstance(e, GoalExit) for e in self.exits) and self.goal is None:
            raise ValueError(
                "exits has a 'goal' rule but the journey has no goal; add "
                "goal: {event: ..., within: ...} or drop the goal exit"
            )
        return self


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"timezone_default {name!r} is not an IANA time zone; use a name like "
            "'Europe/London' or 'UTC'"
        ) from exc


def _check_links(journey: Journey) -> None:
    known = sorted(journey.nodes)
    if journey.start not in journey.nodes:
        raise ValueError(
            f"start names node {journey.start!r}, which does not exist; {_hint(known)}"
        )
    for node_id, node in journey.nodes.items():
        for target in successors(node):
            if target is not None and target not in journey.nodes:
                raise ValueError(
                    f"node {node_id!r} leads to {target!r}, which does not exist; {_hint(known)}"
                )


def _hint(known: list[str]) -> str:
    return "known nodes: " + ", ".join(known) + " (use null to end the path)"


def _check_reachable(journey: Journey) -> None:
    seen, todo = {journey.start}, [journey.start]
    while todo:
        for target in successors(journey.nodes[todo.pop()]):
            if target is not None and target not in seen:
                seen.add(target)
                todo.append(target)
    lost = sorted(set(journey.nodes) - seen)
    if lost:
        raise ValueError(
            f"nodes {', '.join(map(repr, lost))} cannot be reached from start "
            f"{journey.start!r}; link them from another node or delete them"
        )


def _check_cycles(journey: Journey) -> None:
    # A cycle through instant nodes only would make one advance() loop forever: walk the
    # graph without wait nodes and refuse any back edge.
    instant = {k for k, n in journey.nodes.items() if n.kind not in WAIT_KINDS}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node_id: str, path: list[str]) -> None:
        state[node_id] = 1
        for target in successors(journey.nodes[node_id]):
            if target is None or target not in instant:
                continue
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise ValueError(
                    f"nodes {' -> '.join(cycle)} form a cycle without a wait; put a wait, "
                    "wait_event or wait_best_hour node in it"
                )
            if target not in state:
                visit(target, [*path, target])
        state[node_id] = 2

    for node_id in sorted(instant):
        if node_id not in state:
            visit(node_id, [node_id])


def parse_journey(data: dict[str, Any], *, origin: str = "journey") -> Journey:
    """Build a :class:`Journey` from JSON values, with one clear error when it does not validate.

    Returns:
        The journey.

    Raises:
        ValidationError: naming each bad field (``nodes.push.channel``) or node and the fix.

    >>> parse_journey({"id": "x"}).name
    Traceback (most recent call last):
    ...
    journeylens.errors.ValidationError: The journey is not valid: name: Field required; ...
    """
    try:
        return Journey.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{_user_path(err['loc'], data) or '(journey)'}: {message}")
        raise ValidationError(
            f"The {origin} is not valid: " + "; ".join(problems),
            fix="Correct the fields named above; `journeylens journeys templates` shows "
            "journeys that validate",
        ) from None


def _user_path(loc: tuple[Any, ...], data: Any) -> str:
    # Tagged unions put the tag in the location ("nodes.a.send.channel"); drop a part that is
    # the ``kind`` of the mapping it would index, so the path is the one the user wrote.
    parts = []
    for part in loc:
        if isinstance(data, dict) and part not in data and data.get("kind") == part:
            continue
        parts.append(str(part))
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            data = None
    return ".".join(parts)


def load_journey(path: str | Path) -> Journey:
    """Read a journey from a YAML (``.yaml``/``.yml``) or JSON file.

    Returns:
        The journey.

    Raises:
        SourceError: the file is missing or is not YAML/JSON.
        ValidationError: the definition does not validate (see :func:`parse_journey`).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"Cannot read the journey file {str(path)!r}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SourceError(
            f"The journey file {str(path)!r} is not valid {path.suffix.lstrip('.') or 'YAML'}",
            received=str(exc).splitlines()[0],
        ) from None
    if not isinstance(data, dict):
        raise SourceError(
            f"The journey file {str(path)!r} must hold one mapping (id, name, entry, nodes…)",
            received=type(data).__name__,
        )
    return parse_journey(data, origin=f"journey in {path.name}")
