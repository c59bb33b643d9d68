"""The journey engine: ``advance(state, input, journey, now, person) -> (state, actions)``, pure.

No clock, no store, no randomness of its own: the same arguments give the same state and the
same actions, with the same idempotency keys, however often a step is replayed, which is what
lets the runner crash and replay without sending twice. The contract with the runner (who
feeds what, when) is in :mod:`journeylens.activate.state`.

How an input moves an instance:

- **No state**: the input may start an instance if it is the journey's entry trigger, the entry
  rule allows it (once per person; every time, ``min_gap`` after the previous entry) and the
  person is not live in a journey of higher ``priority``. The person's group (treatment or
  holdout) is a hash of journey id and person, so it is the same after a restart and across
  versions. The walk then starts at ``start``.
- **A walk** runs instant nodes (splits, sends, webhooks, trait updates) until a wait node sets
  the instance's one timer, or the path ends. Holdout persons walk the same path but every
  action is withheld (outcome ``holdout``), so the goal can be compared with and without sends.
  A message is withheld from a person unsubscribed from its channel or without an address there
  (``unreachable``) or over a frequency cap at its send time (``capped``); the walk goes on.
- **Events** of a live instance: the goal event within the goal window (``goal.within`` from the
  trigger event's timestamp, or from entry) converts it (and ends it
  when ``exits`` has a goal rule); an exit event ends it; the event a ``wait_event`` node waits
  for moves it on; event conditions of splits are recorded in ``seen``. Events before entry and
  the entry event itself are ignored.
- **Timers**: only the state's current timer counts (others are stale) and only once due.
- When the path ends, an instance with an open goal window waits for it (``waiting``); else it
  is finished (``exited``, reason ``completed``, or ``converted``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from journeylens.activate.journey import (
    MESSAGE_CHANNELS,
    AddToSegmentNode,
    ChannelSplitNode,
    ConditionSplitNode,
    DateEntry,
    EventEntry,
    EventExit,
    EventSeenCondition,
    EveryTime,
    FrequencyCap,
    GoalExit,
    Journey,
    Node,
    RandomSplitNode,
    SegmentEntry,
    SegmentLeftExit,
    SendNode,
    UpdateTraitsNode,
    WaitBestHourNode,
    WaitEventNode,
    WaitNode,
    WebhookNode,
)
from journeylens.activate.matching import condition_holds, filters_match
from journeylens.activate.state import (
    EXIT_NODE,
    GOAL_NODE,
    Action,
    DateInput,
    EventInput,
    Input,
    InstanceState,
    PersonContext,
    ScoreInput,
    SegmentInput,
    Timer,
    TimerInput,
    Visit,
    digest,
)
from journeylens.activate.timing import (
    check_instant,
    next_allowed_send,
    next_date_occurrence,
    next_local_hour,
    person_zone,
)
from journeylens.errors import ValidationError

# The engine's values (inputs, PersonContext, InstanceState, Action) live in ``state``.
__all__ = ["advance", "entry_key", "holdout_group"]

#: How long after a date trait's moment an offered DateInput still enters the person, so a
#: runner that checks once a day never misses one.
DATE_CATCH_UP = timedelta(days=1)


def advance(
    state: InstanceState | None,
    inp: Input,
    journey: Journey,
    now: datetime,
    person: PersonContext,
) -> tuple[InstanceState | None, list[Action]]:
    """Move one instance by one input.

    Args:
        state: the instance's state, or None to ask whether ``inp`` starts a new instance.
        inp: an event, a due timer, a segment change, a date trait or a score.
        journey: the journey version the instance runs (its ``content_hash`` is the version).
        now: the processing instant (UTC-aware); every time computed here starts from it.
        person: what the runner knows of the person (see :class:`PersonContext`).

    Returns:
        ``(state, actions)``: the new state (None when no instance exists and ``inp`` does not
        start one; the state unchanged when ``inp`` does not concern it) and the actions to
        dispatch, in order, each at or after its ``not_before``.

    >>> from datetime import UTC
    >>> from journeylens.activate.state import EventInput, PersonContext
    >>> j = Journey.model_validate({"id": "hi", "name": "Hi", "start": "mail", "holdout_share": 0,
    ...     "entry": {"kind": "event", "event": "Signed Up"},
    ...     "nodes": {"mail": {"kind": "send", "channel": "email", "body": "Welcome"}}})
    >>> t = datetime(2026, 1, 5, 12, tzinfo=UTC)
    >>> ev = EventInput(message_id="m1", event="Signed Up", timestamp=t)
    >>> state, actions = advance(None, ev, j, t, PersonContext(person_id="p1"))
    >>> state.status, [(a.kind, a.channel) for a in actions]
    ('exited', [('message', 'email')])
    """
    now = check_instant(now)
    if state is None:
        return _enter(inp, journey, now, person)
    if state.journey_id != journey.id or state.journey_version != journey.content_hash:
        # Instances stay on their version: a state can only move through its own definition.
        raise ValidationError(
            "An instance moves only through the journey version it entered",
            received=f"state of {state.journey_id}@{state.journey_version}, journey "
            f"{journey.id}@{journey.content_hash}",
            fix="Pass the journey version whose content_hash is the state's journey_version",
        )
    if not state.live:
        return state, []
    walk = _Walk(journey, person, now, state)
    if isinstance(inp, EventInput):
        walk.on_event(inp)
    elif isinstance(inp, TimerInput):
        walk.on_timer(inp)
    elif isinstance(inp, SegmentInput):
        walk.on_segment(inp)
    return walk.result()


def holdout_group(journey_id: str, person_id: str, share: float) -> str:
    """``"holdout"`` for a stable ``share`` of persons per journey, else ``"treatment"``.

    >>> holdout_group("cart", "p1", 0.0)
    'treatment'
    """
    return "holdout" if _unit(digest("holdout", journey_id, person_id)) < share else "treatment"


def entry_key(
    journey: Journey, inp: Input, now: datetime, timezone: str | None = None
) -> str | None:
    """The entry key ``inp`` would start an instance under, or None if it is not the trigger.

    ``timezone`` is the person's (date triggers fire at a local hour).

    Returns:
        ``"once"`` for once-only journeys; for every-time journeys the entry event's
        ``message_id``, ``<segment>@<now>``, ``<trait>@<local date of the occurrence>`` or
        ``<model>@<scored_at>``.

    >>> from datetime import UTC
    >>> from journeylens.activate.state import SegmentInput
    >>> j = Journey.model_validate({"id": "vip", "name": "VIP", "start": "m",
    ...     "entry": {"kind": "segment", "segment": "vip"},
    ...     "nodes": {"m": {"kind": "send", "channel": "sms", "body": "Hi"}}})
    >>> entry_key(j, SegmentInput(segment="vip", entered=True), datetime(2026, 1, 1, tzinfo=UTC))
    'once'
    """
    entry, now = journey.entry, check_instant(now)
    if isinstance(entry, EventEntry):
        if not isinstance(inp, EventInput) or inp.event != entry.event:
            return None
        key = inp.message_id
    elif isinstance(entry, SegmentEntry):
        if not isinstance(inp, SegmentInput) or not inp.entered or inp.segment != entry.segment:
            return None
        key = f"{entry.segment}@{now.isoformat()}"
    elif isinstance(entry, DateEntry):
        if not isinstance(inp, DateInput) or inp.trait != entry.trait:
            return None
        fire = next_date_occurrence(
            inp.value,
            offset_days=entry.offset_days,
            annual=entry.annual,
            hour=entry.hour,
            zone=person_zone(timezone, journey.timezone_default),
            after=now - DATE_CATCH_UP,
        )
        if fire is None or fire > now:
            return None
        key = f"{entry.trait}@{fire.date().isoformat()}"
    else:
        if not isinstance(inp, ScoreInput) or inp.model != entry.model:
            return None
        if inp.score < entry.at_least:
            return None
        key = f"{entry.model}@{inp.scored_at.isoformat()}"
    return key if isinstance(journey.entry_rule, EveryTime) else "once"


def _enter(
    inp: Input, journey: Journey, now: datetime, person: PersonContext
) -> tuple[InstanceState | None, list[Action]]:
    key = entry_key(journey, inp, now, person.timezone)
    if key is None or not _entry_allowed(journey, key, now, person):
        return None, []
    properties: dict[str, Any] = {}
    trigger, triggered_at = None, None
    if isinstance(inp, EventInput):
        entry = journey.entry
        assert isinstance(entry, EventEntry)
        if not filters_match(entry.filters, inp.properties, person.traits):
            return None, []
        properties, trigger, triggered_at = dict(inp.properties), inp.message_id, inp.timestamp
    state = InstanceState(
        journey_id=journey.id,
        journey_version=journey.content_hash,
        person_id=person.person_id,
        entry_key=key,
        trigger_id=trigger,
        triggered_at=triggered_at,
        entry_properties=properties,
        group=holdout_group(journey.id, person.person_id, journey.holdout_share),
        node=journey.start,
        status="active",
        entered_at=now,
        updated_at=now,
    )
    walk = _Walk(journey, person, now, state)
    walk.run(journey.start)
    return walk.result()


def _entry_allowed(journey: Journey, key: str, now: datetime, person: PersonContext) -> bool:
    mine = [i for i in person.instances if i.journey_id == journey.id]
    rule = journey.entry_rule
    if isinstance(rule, EveryTime):
        if any(i.entry_key == key for i in mine):
            return False  # the same trigger offered again: it already has its instance
        if any(now - i.entered_at < rule.min_gap for i in mine):
            return False
    elif mine:
        return False
    return not any(
        i.journey_id != journey.id
        and i.status in ("active", "waiting")
        and i.priority > journey.priority
        for i in person.instances
    )


def _unit(hex_digest: str) -> float:
    """A number in [0, 1) from a hex digest: uniform, and the same on every run."""
    return int(hex_digest[:16], 16) / 2**64


class _Walk:
    """One advance() call's mutable scratch: the state's fields being changed and the actions
    emitted so far; :meth:`result` freezes them into a new state."""

    def __init__(
        self, journey: Journey, person: PersonContext, now: datetime, state: InstanceState
    ) -> None:
        self.journey, self.person, self.now, self.start = journey, person, now, state
        self.fields: dict[str, Any] = {}
        self.path: list[Visit] = list(state.path)
        self.step = state.step
        self.actions: list[Action] = []
        self.zone = person_zone(person.timezone, journey.timezone_default)

    # -- reading and writing the state ------------------------------------------------------
    def get(self, name: str) -> Any:
        return self.fields.get(name, getattr(self.start, name))

    def set(self, **values: Any) -> None:
        self.fields.update(values)

    def visit(self, node: str, outcome: str) -> None:
        self.path.append(Visit(node=node, at=self.now, outcome=outcome))

    def result(self) -> tuple[InstanceState, list[Action]]:
        changed = bool(self.fields) or len(self.path) != len(self.start.path)
        if not changed:
            return self.start, []
        state = self.start.model_copy(
            update={
                **self.fields,
                "path": tuple(self.path),
                "step": self.step,
                "updated_at": self.now,
            }
        )
        return state, self.actions

    def finish(self, status: str, reason: str) -> None:
        self.set(status=status, exit_reason=reason, timer=None, node=None)
        self.visit(EXIT_NODE, f"exited:{reason}")

    # -- inputs ------------------------------------------------------------------------------
    def on_event(self, inp: EventInput) -> None:
        if inp.timestamp < self.start.since or inp.message_id == self.start.trigger_id:
            return
        journey, traits = self.journey, self.person.traits
        seen = set(self.start.seen)
        for condition in _event_conditions(journey):
            if inp.event == condition.event and filters_match(
                condition.filters, inp.properties, traits
            ):
                seen.add(condition.key)
        if seen != set(self.start.seen):
            self.set(seen=tuple(sorted(seen)))
        goal = journey.goal
        if (
            goal is not None
            and self.start.converted_at is None
            and inp.event == goal.event
            and inp.timestamp <= self.start.since + goal.within
            and filters_match(goal.filters, inp.properties, traits)
        ):
            self.set(converted_at=inp.timestamp)
            self.visit(GOAL_NODE, "converted")
            if self.start.status == "waiting" or any(
                isinstance(e, GoalExit) for e in journey.exits
            ):
                self.finish("converted", "goal")
                return
        for rule in journey.exits:
            if (
                isinstance(rule, EventExit)
                and inp.event == rule.event
                and filters_match(rule.filters, inp.properties, traits)
            ):
                self.finish("exited", f"event:{rule.event}")
                return
        node_id = self.start.node
        node = journey.nodes.get(node_id) if node_id else None
        if (
            self.start.status == "active"
            and isinstance(node, WaitEventNode)
            and inp.event == node.event
            and filters_match(node.filters, inp.properties, traits)
        ):
            self.visit(node_id, "event")
            self.set(timer=None)
            self.run(node.next)

    def on_timer(self, inp: TimerInput) -> None:
        timer = self.start.timer
        if timer is None or timer.id != inp.timer_id or self.now < timer.due_at:
            return
        if timer.kind == "goal_window":
            self.finish("exited", "completed")
            return
        node_id = self.start.node
        assert node_id is not None
        node = self.journey.nodes[node_id]
        self.set(timer=None)
        if timer.kind == "timeout":
            assert isinstance(node, WaitEventNode)
            self.visit(node_id, "timeout")
            self.run(node.timeout_next)
        else:
            assert isinstance(node, WaitNode | WaitBestHourNode)
            self.visit(node_id, "due")
            self.run(node.next)

    def on_segment(self, inp: SegmentInput) -> None:
        if inp.entered:
            return
        for rule in self.journey.exits:
            if isinstance(rule, SegmentLeftExit) and rule.segment == inp.segment:
                self.finish("exited", "segment_left")
                return

    # -- the walk ------------------------------------------------------------------------------
    def run(self, node_id: str | None) -> None:
        """Walk from ``node_id`` through instant nodes until a wait or the end of the path."""
        while node_id is not None:
            self.step += 1
            node = self.journey.nodes[node_id]
            self.set(node=node_id, status="active")
            if isinstance(node, WaitNode | WaitEventNode | WaitBestHourNode):
                due = self._wait_until(node)
                if due is not None:
                    kind = {"wait": "wait", "wait_event": "timeout"}.get(node.kind, "best_hour")
                    timer_id = digest(self.start.instance_id, node_id, str(self.step))[:24]
                    self.set(timer=Timer(id=timer_id, due_at=due, kind=kind))
                    self.visit(node_id, "waiting")
                    return
                self.visit(node_id, "due")
                node_id = node.next
            elif isinstance(node, ConditionSplitNode | RandomSplitNode | ChannelSplitNode):
                outcome, following = self._split(node_id, node)
                self.visit(node_id, outcome)
                node_id = following
            else:
                self.visit(node_id, self._act(node_id, node))
                node_id = node.next
        self._path_ended()

    def _path_ended(self) -> None:
        goal = self.journey.goal
        converted = self.get("converted_at") is not None
        if goal is not None and not converted:
            closes = self.start.since + goal.within
            if closes > self.now:
                timer_id = digest(self.start.instance_id, "goal", str(self.step))[:24]
                self.set(
                    node=None,
                    status="waiting",
                    timer=Timer(id=timer_id, due_at=closes, kind="goal_window"),
                )
                return
        if converted:
            self.finish("converted", "goal")
        else:
            self.finish("exited", "completed")

    def _wait_until(self, node: Node) -> datetime | None:
        """When a wait node's timer is due; None when it is over at once."""
        if isinstance(node, WaitNode):
            return self.now + node.duration
        if isinstance(node, WaitEventNode):
            return self.now + node.timeout
        assert isinstance(node, WaitBestHourNode)
        hour = self.person.best_send_hour
        hour = node.fallback_hour if hour is None else hour
        if hour is None:
            return None
        due = next_local_hour(self.now, hour, self.zone)
        return None if due == self.now else due

    def _split(self, node_id: str, node: Node) -> tuple[str, str | None]:
        person = self.person
        if isinstance(node, ConditionSplitNode):
            seen = self.get("seen")
            holds = all(
                condition_holds(c, person.traits, person.scores, seen) for c in node.conditions
            )
            return ("yes", node.then) if holds else ("no", node.otherwise)
        if isinstance(node, RandomSplitNode):
            draw = _unit(digest(self.start.instance_id, node_id, str(self.step)))
            total = sum(b.weight for b in node.branches)
            edge = 0.0
            for i, branch in enumerate(node.branches):
                edge += branch.weight / total
                if draw < edge or i == len(node.branches) - 1:
                    return f"branch:{i}", branch.next
        assert isinstance(node, ChannelSplitNode)
        channel = person.preferred_channel
        if channel in node.branches and self._reachable(channel):
            return f"channel:{channel}", node.branches[channel]
        return "otherwise", node.otherwise

    def _reachable(self, channel: str) -> bool:
        person = self.person
        known = person.reachable is None or channel in person.reachable
        return known and channel not in person.unsubscribed

    def _act(self, node_id: str, node: Node) -> str:
        """Emit the action of an action node; returns the visit's outcome."""
        if self.start.group == "holdout":
            return "holdout"
        not_before = self.now
        if isinstance(node, SendNode):
            if not self._reachable(node.channel):
                return "unreachable"
            not_before = next_allowed_send(self.now, self.journey.quiet_hours, self.zone)
            if self._capped(node.channel, not_before):
                return "capped"
            kind, channel = "message", node.channel
            payload: dict[str, Any] = {
                "template": node.template,
                "subject": node.subject,
                "body": node.body,
                "url": node.url,
                "data": node.data,
                "entry_properties": self.start.entry_properties,
            }
        elif isinstance(node, WebhookNode):
            kind, channel = "webhook", "webhook"
            payload = {"url": node.url, "method": node.method, "body": node.body}
        elif isinstance(node, UpdateTraitsNode):
            kind, channel, payload = "update_traits", None, {"traits": node.traits}
        else:
            assert isinstance(node, AddToSegmentNode)
            kind, channel, payload = "add_to_segment", None, {"segment": node.segment}
        start = self.start
        key = digest(
            start.journey_id,
            start.journey_version,
            start.person_id,
            start.entry_key,
            node_id,
            str(self.step),
        )
        self.actions.append(
            Action(
                idempotency_key=key,
                kind=kind,
                channel=channel,
                person_id=start.person_id,
                journey_id=start.journey_id,
                journey_version=start.journey_version,
                entry_key=start.entry_key,
                node_id=node_id,
                payload=payload,
                not_before=not_before,
            )
        )
        return "sent"

    def _capped(self, channel: str, at: datetime) -> bool:
        caps: Iterable[FrequencyCap] = (*self.journey.frequency_caps, *self.person.caps)
        sends = [(s.channel, s.sent_at) for s in self.person.recent_sends]
        sends += [(a.channel, a.not_before) for a in self.actions if a.kind == "message"]
        for cap in caps:
            if cap.channel not in ("any", channel):
                continue
            # "any" counts messages on every channel, not webhooks.
            counts = MESSAGE_CHANNELS if cap.channel == "any" else (cap.channel,)
            counted = sum(1 for c, sent_at in sends if c in counts and at - cap.per < sent_at <= at)
            if counted >= cap.limit:
                return True
        return False


def _event_conditions(journey: Journey) -> list[EventSeenCondition]:
    return [
        c
        for node in journey.nodes.values()
        if isinstance(node, ConditionSplitNode)
        for c in node.conditions
        if isinstance(c, EventSeenCondition)
    ]
