"""The journey runner: the effectful shell around the pure engine.

One tick (:func:`run_once`) does, in this order:

1. **Read** what is new: events received since the cursor (only the names some journey reacts
   to, from the raw events with persons from the identity map: see
   :mod:`~journeylens.activate.inputs`), timers due at ``now``, fresh predictions for
   score-triggered journeys, hourly the date traits of date-triggered journeys, and every
   ``segment_every`` who entered or left the segments of segment journeys. When identities
   were resolved again, instances of persons who merged into another move to that person
   first (their own commit).
2. **Advance**: every input goes through :func:`~journeylens.activate.engine.advance` in time
   order (events at their timestamp, timers at their due time, capped at ``now``), so a tick
   that covers an hour of traffic decides exactly what a runner ticking every second would
   have: an order placed before a wait's timeout is seen before the timeout fires. A timer that
   falls due inside the tick is fired inside it. An event goes first to the person's live
   instances (highest journey priority first), then, as a possible entry, to every live journey
   version published before the event was received (so publishing a journey never enters people
   for old history).
3. **Persist** the new states, timers, outbox rows (status ``pending``) and the cursor in ONE
   transaction.
4. **Dispatch** the pending outbox rows due at ``now`` through the channels, marking each.

Exactly once: a crash before step 3 leaves nothing behind, and the restarted runner reads the
same events again; the engine is deterministic, so it decides the same actions with the same
idempotency keys, and the outbox's primary key keeps one row per key. A crash during step 4
leaves the unacknowledged rows ``pending``; they are sent again with the same key, which the
provider (or the recording channel) deduplicates. Nothing is lost and nothing is duplicated
beyond a retry of a send whose acknowledgement was lost.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from journeylens.activate.channels import Channel
from journeylens.activate.context import (
    PersonFacts,
    person_context,
    read_people,
    recipient,
)
from journeylens.activate.dispatch import DispatchReport, default_channels, dispatch_due
from journeylens.activate.engine import advance, entry_key
from journeylens.activate.inputs import (
    fresh_events,
    journey_segments,
    moved_persons,
    refresh_for,
    segment_members,
)
from journeylens.activate.journey import (
    ConditionSplitNode,
    DateEntry,
    EventEntry,
    EventExit,
    EventSeenCondition,
    Journey,
    ScoreEntry,
    WaitEventNode,
)
from journeylens.activate.publish import journey_store, journey_version
from journeylens.activate.state import (
    Action,
    DateInput,
    EntrySummary,
    EventInput,
    Input,
    InstanceState,
    ScoreInput,
    SegmentInput,
    SentRecord,
    TimerInput,
)
from journeylens.errors import UnknownNameError
from journeylens.store.journeys import JourneyStore, TickChanges, utc
from journeylens.workspace import Workspace

__all__ = ["TickReport", "relevant_events", "run_loop", "run_once"]

#: How often date-triggered journeys are offered everyone's date trait.
_DATE_EVERY = timedelta(hours=1)
_LIVE_STATUSES = ("active", "waiting")
#: How stale identities (and the traits read with them) may get while no new person shows up.
_IDENTITY_EVERY = timedelta(minutes=1)
#: Order of inputs at the same instant: a timer that is due goes before an event of that time.
_RANK = {"timer": 0, "event": 1, "score": 2, "date": 3, "segment": 4}
#: How often journeys' segments are evaluated (each evaluation reads every event).
SEGMENT_EVERY = timedelta(minutes=5)


@dataclass
class TickReport:
    """What one tick did.

    Attributes:
        now: the tick's instant.
        events: events read (of the names journeys react to).
        more_events: the read stopped at ``batch_events``: more are waiting.
        timers: timers fired.
        segment_changes: persons who entered or left a journey's segment.
        moved: instances moved to the person their person merged into (or ended as
            ``merged`` when that person already runs the journey).
        entries: new instances.
        actions: new outbox rows.
        dispatch: the dispatch pass (sent / retried / failed).
        seconds: wall time of the tick.
        problems: what this tick had to skip and why (e.g. a journey's saved segment was
            deleted); the other journeys went on.
    """

    now: datetime
    events: int = 0
    more_events: bool = False
    timers: int = 0
    segment_changes: int = 0
    moved: int = 0
    entries: int = 0
    actions: int = 0
    dispatch: DispatchReport = field(default_factory=DispatchReport)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields above, ``now`` as ISO text, ``dispatch`` as a dict."""
        return {
            "now": self.now.isoformat(),
            "events": self.events,
            "more_events": self.more_events,
            "timers": self.timers,
            "segment_changes": self.segment_changes,
            "moved": self.moved,
            "entries": self.entries,
            "actions": self.actions,
            "sent": self.dispatch.sent,
            "retried": self.dispatch.retried,
            "failed": self.dispatch.failed,
            "seconds": round(self.seconds, 4),
            "problems": list(self.problems),
        }


def relevant_events(journeys: Iterable[Journey]) -> set[str]:
    """The event names the journeys react to: entry events, waited-for events, goals, exit
    events and events of split conditions. Others cannot change any instance.

    >>> from journeylens.activate.templates import load_template
    >>> sorted(relevant_events([load_template("cart_abandonment")]))
    ['Order Completed', 'Product Added', 'Unsubscribed']
    """
    names: set[str] = set()
    for journey in journeys:
        if isinstance(journey.entry, EventEntry):
            names.add(journey.entry.event)
        if journey.goal is not None:
            names.add(journey.goal.event)
        names |= {e.event for e in journey.exits if isinstance(e, EventExit)}
        for node in journey.nodes.values():
            if isinstance(node, WaitEventNode):
                names.add(node.event)
            elif isinstance(node, ConditionSplitNode):
                names |= {c.event for c in node.conditions if isinstance(c, EventSeenCondition)}
    return names


def run_once(
    ws: Workspace,
    now: datetime | None = None,
    *,
    channels: Mapping[str, Channel] | None = None,
    batch_events: int = 50_000,
    dispatch_limit: int = 10_000,
    ack_batch: int = 1,
    segment_every: timedelta = SEGMENT_EVERY,
) -> TickReport:
    """One tick of the runner over ``ws`` at ``now`` (default: the wall clock).

    ``channels`` maps ``email``, ``sms``, ``push``, ``web_push``, ``whatsapp``, ``webhook`` and
    ``profile`` to channels (default: :func:`~journeylens.activate.dispatch.default_channels`);
    at most ``batch_events`` events are read per tick; ``ack_batch`` send outcomes are
    stored per commit (see :func:`~journeylens.activate.dispatch.dispatch_due`); the
    segments of segment-entry and segment-left journeys are evaluated at most every
    ``segment_every`` (the first evaluation of a journey's segment only records its members:
    like events received before publishing, people already in it are not entered).

    Returns:
        A :class:`TickReport`.
    """
    started = time.perf_counter()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    store = journey_store(ws)
    tick = _Tick(ws, store, now)
    report = TickReport(now=now)
    if not tick.journeys:
        return report  # nothing published: nothing to read or send
    tick.read_events(batch_events, report)
    tick.move_merged(report)
    tick.read_timers(report)
    tick.read_scores()
    tick.read_dates()
    tick.read_segments(segment_every, report)
    tick.advance_all(report)
    store.commit_tick(tick.changes, now)
    report.dispatch = dispatch_due(
        store,
        channels if channels is not None else default_channels(ws),
        now,
        ws.settings.channels,
        limit=dispatch_limit,
        ack_batch=ack_batch,
    )
    report.seconds = time.perf_counter() - started
    return report


def run_loop(
    ws: Workspace,
    stop: threading.Event,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    interval_seconds: float = 1.0,
    lock: AbstractContextManager[Any] | None = None,
    channels: Mapping[str, Channel] | None = None,
    on_tick: Callable[[TickReport], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Tick until ``stop`` is set: at once again while events are waiting, else every
    ``interval_seconds``. ``lock`` (the server's workspace lock) is held during each tick. An
    error of one tick goes to ``on_error`` (default: raised) and the loop goes on after the
    interval; the tick's changes were not committed, so the next tick redoes it.
    """
    guard = lock if lock is not None else nullcontext()
    while not stop.is_set():
        try:
            with guard:
                report = run_once(ws, clock(), channels=channels)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(exc)
            stop.wait(interval_seconds)
            continue
        if on_tick is not None:
            on_tick(report)
        if not report.more_events:
            stop.wait(interval_seconds)


@dataclass(order=True)
class _Item:
    at: datetime
    rank: int
    key: str
    kind: str = field(compare=False)
    person_id: str = field(compare=False)
    value: Any = field(compare=False)
    received_at: datetime | None = field(compare=False, default=None)


@dataclass
class _Person:
    facts: PersonFacts
    live: dict[str, InstanceState] = field(default_factory=dict)
    summaries: dict[str, EntrySummary] = field(default_factory=dict)
    zones: dict[str, str | None] = field(default_factory=dict)
    sends: list[SentRecord] = field(default_factory=list)


class _Tick:
    """One tick's reads, working state and changes."""

    def __init__(self, ws: Workspace, store: JourneyStore, now: datetime) -> None:
        self.ws, self.store, self.now = ws, store, now
        self.changes = TickChanges()
        self.items: list[_Item] = []
        rows = store.versions()
        self.journeys = {
            (r["journey_id"], r["version"]): journey_version(r["definition"]) for r in rows
        }
        self.published = {(r["journey_id"], r["version"]): utc(r["published_at"]) for r in rows}
        self.paused = {r["journey_id"] for r in rows if r["status"] == "paused"}
        self.live = sorted(
            (r for r in rows if r["status"] == "live"),
            key=lambda r: (-r["priority"], r["journey_id"]),
        )
        self.people: dict[str, _Person] = {}
        self.check_merges = False

    # ------------------------------------------------------------------ reading inputs

    def read_events(self, limit: int, report: TickReport) -> None:
        active = [j for (jid, _), j in self.journeys.items() if jid not in self.paused]
        names = sorted(relevant_events(active))
        if not names:
            return
        rows = fresh_events(self.ws, self.store, names, limit)
        self.check_merges = self._due("identity", _IDENTITY_EVERY)
        if self.check_merges:
            self.changes.cursors["identity"] = (self.now, [])
        if refresh_for(self.ws, rows, force=self.check_merges):
            rows = fresh_events(self.ws, self.store, names, limit)  # persons may have changed
            self.check_merges = True
        report.events = len(rows)
        report.more_events = len(rows) == limit
        if not rows:
            return
        last = utc(rows[-1]["received_at"])
        ids = [r["message_id"] for r in rows if utc(r["received_at"]) == last]
        self.changes.cursors["events"] = (last, ids)
        for row in rows:
            stamp = utc(row["timestamp"])
            properties = json.loads(row["properties"]) if row["properties"] else {}
            inp = EventInput(
                message_id=row["message_id"],
                event=row["event"],
                timestamp=stamp,
                properties=properties if isinstance(properties, dict) else {},
            )
            self._push(
                stamp, "event", row["message_id"], row["person_id"], inp, utc(row["received_at"])
            )

    def _due(self, name: str, every: timedelta) -> bool:
        """Whether the periodic reader ``name`` last ran ``every`` or longer before ``now``."""
        at, _ = self.store.cursor(name)
        return at is None or self.now - utc(at) >= every

    def move_merged(self, report: TickReport) -> None:
        """Move the instances of persons who merged into another to that person, in a commit
        of its own (rewriting a person's id is the same whenever it is done, so a crash after
        it only saves the next tick the work). An instance whose new person already has an
        instance of its journey that is live, or one of the same id, is not moved: a live one
        ends as ``exited`` (reason ``merged``), so the merged person is in each journey once;
        the earliest entered instance wins among several moving ones. A person who is gone with
        no identifier left (erased) has their live instances ended (reason ``person_gone``)."""
        if not self.check_merges:
            return
        gone = self.store.unmapped_persons()
        if not gone:
            return
        moves = moved_persons(self.ws, gone)
        rows = self.store.instances_of(sorted(set(gone) | set(moves.values())))
        stays = [r for r in rows if r["person_id"] not in gone]
        taken = {r["instance_id"] for r in stays}
        claimed = {
            (r["person_id"], r["journey_id"]) for r in stays if r["status"] in _LIVE_STATUSES
        }
        changes = TickChanges()
        leaving = [r for r in rows if r["person_id"] in gone]
        for row in sorted(leaving, key=lambda r: (r["entered_at"], r["instance_id"])):
            state = InstanceState.model_validate_json(row["state"])
            new_person = moves.get(row["person_id"])
            moved = state.model_copy(update={"person_id": new_person or state.person_id})
            claim = (moved.person_id, state.journey_id)
            if (
                new_person is None
                or moved.instance_id in taken
                or (state.live and claim in claimed)
            ):
                if state.live:
                    reason = "merged" if new_person else "person_gone"
                    ended = state.model_copy(
                        update={"status": "exited", "exit_reason": reason, "timer": None}
                    )
                    changes.instances[row["instance_id"]] = _instance_row(ended, row["timezone"])
                    changes.timers[row["instance_id"]] = None
                    report.moved += 1
                continue
            taken.add(moved.instance_id)
            if state.live:
                claimed.add(claim)
            changes.dropped.add(row["instance_id"])
            changes.instances[moved.instance_id] = _instance_row(moved, row["timezone"])
            timer = moved.timer
            changes.timers[moved.instance_id] = (timer.id, timer.due_at) if timer else None
            report.moved += 1
        self.store.commit_tick(changes, self.now)

    def read_segments(self, every: timedelta, report: TickReport) -> None:
        newest_last = [
            j for (jid, _), j in reversed(self.journeys.items()) if jid not in self.paused
        ]
        for (journey_id, name), spec in journey_segments(newest_last).items():
            key = f"{journey_id}/{name}"
            at, _ = self.store.cursor(f"segment:{key}")
            if at is not None and self.now - utc(at) < every:
                continue
            try:
                members = segment_members(self.ws, name, spec, self.now)
            except UnknownNameError as error:
                # One journey's deleted segment must not stop every other journey.
                report.problems.append(
                    f"journey {journey_id!r}: {error} Save the segment again or "
                    "publish a version of the journey without it."
                )
                continue
            stored = self.store.segment_members(key)
            entered, left = sorted(members - stored), sorted(stored - members)
            self.changes.segments[key] = (entered, left)
            self.changes.cursors[f"segment:{key}"] = (self.now, [])
            if at is None:
                continue  # the first look: who is in it already did not just enter
            for person_id, went_in in [(p, True) for p in entered] + [(p, False) for p in left]:
                inp = SegmentInput(segment=name, entered=went_in)
                self._push(self.now, "segment", journey_id, person_id, inp)

    def read_timers(self, report: TickReport) -> None:
        for row in self.store.due_timers(self.now):
            due = utc(row["due_at"])
            inp = TimerInput(timer_id=row["timer_id"], due_at=due)
            self._push(due, "timer", row["instance_id"], row["person_id"], inp)
            report.timers += 1

    def read_scores(self) -> None:
        models = {j.entry.model for j in self._live_journeys() if isinstance(j.entry, ScoreEntry)}
        for model in sorted(models):
            at, _ = self.store.cursor(f"score:{model}")
            table = self.ws.predictions(model)
            fresh = table.filter(table.rank.isnull(), table.score.notnull())
            if at is not None:
                fresh = fresh.filter(fresh.scored_at > at)
            rows = fresh.select("person_id", "score", "scored_at").to_pyarrow().to_pylist()
            if not rows:
                continue
            newest = max(utc(r["scored_at"]) for r in rows)
            self.changes.cursors[f"score:{model}"] = (newest, [])
            for row in rows:
                scored = utc(row["scored_at"])
                inp = ScoreInput(model=model, score=row["score"], scored_at=scored)
                self._push(scored, "score", model, row["person_id"], inp)

    def read_dates(self) -> None:
        for journey in self._live_journeys():
            entry = journey.entry
            if not isinstance(entry, DateEntry):
                continue
            name = f"date:{journey.id}"
            at, _ = self.store.cursor(name)
            if at is not None and self.now - at < _DATE_EVERY:
                continue
            self.changes.cursors[name] = (self.now, [])
            persons = self.ws.persons()
            value = persons.traits[entry.trait].cast("string")
            rows = (
                persons.filter(value.notnull())
                .select("person_id", value=value)
                .to_pyarrow()
                .to_pylist()
            )
            for row in rows:
                day = _date(row["value"])
                if day is not None:
                    inp = DateInput(trait=entry.trait, value=day)
                    self._push(self.now, "date", entry.trait, row["person_id"], inp)

    def _live_journeys(self) -> list[Journey]:
        return [self.journeys[(r["journey_id"], r["version"])] for r in self.live]

    def _push(
        self,
        at: datetime,
        kind: str,
        key: str,
        person_id: str,
        value: Any,
        received_at: datetime | None = None,
    ) -> None:
        heapq.heappush(
            self.items,
            _Item(min(at, self.now), _RANK[kind], key, kind, person_id, value, received_at),
        )

    # ------------------------------------------------------------------ advancing

    def advance_all(self, report: TickReport) -> None:
        if not self.items:
            return
        self._load_people({item.person_id for item in self.items})
        while self.items:
            item = heapq.heappop(self.items)
            person = self.people[item.person_id]
            if item.kind == "timer":
                state = person.live.get(item.key)
                if state is not None and state.journey_id not in self.paused:
                    self._step(person, state, item.value, item.at, report)
                continue
            if item.kind == "segment":
                report.segment_changes += 1
            if item.kind in ("event", "segment"):
                for state in self._by_priority(person):
                    # A segment change is news to its own journey only (segments are per journey).
                    if item.kind == "event" or state.journey_id == item.key:
                        self._step(person, state, item.value, item.at, report)
            self._offer_entry(person, item, report)

    def _by_priority(self, person: _Person) -> list[InstanceState]:
        states = [s for s in person.live.values() if s.journey_id not in self.paused]
        return sorted(
            states,
            key=lambda s: (
                -self.journeys[(s.journey_id, s.journey_version)].priority,
                s.journey_id,
                s.entry_key,
            ),
        )

    def _offer_entry(self, person: _Person, item: _Item, report: TickReport) -> None:
        for row in self.live:
            key = (row["journey_id"], row["version"])
            if item.kind == "segment" and row["journey_id"] != item.key:
                continue
            if item.kind == "event" and item.received_at < self.published[key]:
                continue  # received before this version was published: history, not a trigger
            journey = self.journeys[key]
            if entry_key(journey, item.value, item.at, person.facts.timezone) is None:
                continue  # not this journey's trigger: skip building the person's context
            self._step(person, None, item.value, item.at, report, journey)

    def _step(
        self,
        person: _Person,
        state: InstanceState | None,
        inp: Input,
        at: datetime,
        report: TickReport,
        journey: Journey | None = None,
    ) -> None:
        if state is not None:
            journey = self.journeys[(state.journey_id, state.journey_version)]
            instance = state.instance_id
            at = max(at, state.updated_at)  # an instance's time never runs backwards
            zone = person.zones.get(instance)
        else:
            assert journey is not None
            instance, zone = None, person.facts.timezone
        context = person_context(
            person.facts,
            at,
            timezone=zone,
            recent_sends=person.sends,
            instances=list(person.summaries.values()),
        )
        new, actions = advance(state, inp, journey, at, context)
        if new is None or new is state:
            return
        instance = new.instance_id
        if state is None:
            if instance in person.summaries:
                return  # the engine's entry rule saw it; never a second row for one key
            report.entries += 1
            person.zones[instance] = zone
        self._record(person, new, actions, journey, report)

    def _record(
        self,
        person: _Person,
        state: InstanceState,
        actions: list[Action],
        journey: Journey,
        report: TickReport,
    ) -> None:
        instance = state.instance_id
        person.summaries[instance] = state.summary(journey.priority)
        if state.live:
            person.live[instance] = state
        else:
            person.live.pop(instance, None)
        self.changes.instances[instance] = _instance_row(state, person.zones.get(instance))
        timer = state.timer
        self.changes.timers[instance] = (timer.id, timer.due_at) if timer else None
        if timer is not None and timer.due_at <= self.now:
            inp = TimerInput(timer_id=timer.id, due_at=timer.due_at)
            self._push(timer.due_at, "timer", instance, state.person_id, inp)
        for action in actions:
            self.changes.outbox[action.idempotency_key] = _outbox_row(
                action, instance, recipient(action.kind, action.channel, person.facts)
            )
            report.actions += 1
            if action.kind == "message" and action.channel is not None:
                person.sends.append(SentRecord(channel=action.channel, sent_at=action.not_before))

    def _load_people(self, person_ids: set[str]) -> None:
        ids = sorted(person_ids)
        facts = read_people(self.ws, ids)
        self.people = {p: _Person(facts[p]) for p in ids}
        for row in self.store.instances_of(ids):
            person = self.people[row["person_id"]]
            state = InstanceState.model_validate_json(row["state"])
            instance = row["instance_id"]
            person.zones[instance] = row["timezone"]
            person.summaries[instance] = state.summary(row["priority"])
            if state.live:
                person.live[instance] = state
        window = max(
            (cap.per for j in self.journeys.values() for cap in j.frequency_caps),
            default=timedelta(0),
        )
        if window:
            # The earliest input of the tick counts sends from one window before it.
            earliest = min(item.at for item in self.items)
            for row in self.store.recent_sends(ids, earliest - window):
                sent = SentRecord(channel=row["channel"], sent_at=utc(row["at"]))
                self.people[row["person_id"]].sends.append(sent)


def _instance_row(state: InstanceState, zone: str | None) -> dict[str, Any]:
    return {
        "instance_id": state.instance_id,
        "journey_id": state.journey_id,
        "version": state.journey_version,
        "person_id": state.person_id,
        "entry_key": state.entry_key,
        "status": state.status,
        "grp": state.group,
        "node": state.node,
        "timezone": zone,
        "entered_at": state.entered_at,
        "updated_at": state.updated_at,
        "converted_at": state.converted_at,
        "state": state.model_dump_json(),
    }


def _outbox_row(action: Action, instance: str, to: str | None) -> dict[str, Any]:
    return {
        "idempotency_key": action.idempotency_key,
        "instance_id": instance,
        "kind": action.kind,
        "channel": action.channel,
        "person_id": action.person_id,
        "recipient": to,
        "journey_id": action.journey_id,
        "journey_version": action.journey_version,
        "node_id": action.node_id,
        "payload": json.dumps(action.payload, default=str, sort_keys=True),
        "not_before": action.not_before,
    }


def _date(text: str | None) -> date | None:
    """A date trait's value: ISO date or date-time text (JSON strings keep their quotes)."""
    if not text:
        return None
    text = text.strip('"')
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
