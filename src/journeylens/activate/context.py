"""What the runner tells the engine about a person, read in bulk from the workspace.

For every person a tick touches, :func:`read_people` reads their traits (the ``persons`` table),
their predictions (best send hour, preferred channel, scores) and their addresses, in a few
queries for the whole batch; :func:`person_context` turns one person's facts, recent sends and
instance summaries into the engine's :class:`~journeylens.activate.state.PersonContext`.

Conventions read from traits: ``email`` and ``phone`` are the addresses (e-mail; SMS and
WhatsApp; push channels reach the person by id through the provider, so they count as
reachable); ``timezone`` is an IANA zone; ``unsubscribed`` is ``true`` (every channel) or a list
of channels the person opted out of. Predictions: ``send_time`` (label = best hour in UTC,
turned into the person's local hour at the tick's time), ``channel`` (label = preferred
channel), and every model with one score per person (``churn``, ``conversion``, ``clv``...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis
import pyarrow as pa

from journeylens.activate.journey import MESSAGE_CHANNELS, FrequencyCap
from journeylens.activate.state import EntrySummary, PersonContext, SentRecord
from journeylens.activate.timing import person_zone
from journeylens.workspace import Workspace

__all__ = ["PersonFacts", "person_context", "read_people", "recipient"]


@dataclass
class PersonFacts:
    """What the workspace knows of one person, for journeys.

    Attributes:
        person_id: the person.
        user_id: their user id (how trait updates reach their profile), if any.
        traits: their latest traits.
        best_hour_utc: the ``send_time`` model's hour (UTC), if scored.
        preferred_channel: the ``channel`` model's answer, if scored and a message channel.
        scores: model -> score for models with one score per person.
    """

    person_id: str
    user_id: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    best_hour_utc: int | None = None
    preferred_channel: str | None = None
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def timezone(self) -> str | None:
        zone = self.traits.get("timezone")
        return zone if isinstance(zone, str) and zone else None

    def unsubscribed(self) -> frozenset[str]:
        flag = self.traits.get("unsubscribed")
        if flag is True:
            return frozenset(MESSAGE_CHANNELS)
        if isinstance(flag, list):
            return frozenset(str(c) for c in flag)
        return frozenset()

    def reachable(self) -> frozenset[str]:
        found = {"push", "web_push"}
        if self.traits.get("email"):
            found.add("email")
        if self.traits.get("phone"):
            found |= {"sms", "whatsapp"}
        return frozenset(found)


def read_people(ws: Workspace, person_ids: Iterable[str]) -> dict[str, PersonFacts]:
    """The facts of every person in ``person_ids`` (persons not in the workspace get empty
    facts), read with one query per table. The stored ``persons`` table is read as it is: the
    caller decides when identities are resolved again (the runner does when a new person shows
    up, and at least every minute), so a tick never pays for the whole workspace.

    Returns:
        ``{person_id: PersonFacts}`` for every id given.
    """
    wanted = sorted(set(person_ids))
    facts = {p: PersonFacts(p) for p in wanted}
    if not wanted:
        return facts
    ids = ibis.memtable(pa.table({"person_id": pa.array(wanted, pa.string())}))
    persons = ws.table("persons")
    rows = (
        persons.join(ids, "person_id")
        .select("person_id", "user_id", traits=persons.traits.cast("string"))
        .to_pyarrow()
        .to_pylist()
    )
    for row in rows:
        facts[row["person_id"]].user_id = row["user_id"]
        traits = json.loads(row["traits"]) if row["traits"] else {}
        facts[row["person_id"]].traits = traits if isinstance(traits, dict) else {}
    predictions = ws.predictions()
    scored = (
        predictions.join(ids, "person_id")
        .select("person_id", "model", "rank", "score", "label")
        .to_pyarrow()
        .to_pylist()
    )
    for row in scored:
        person = facts[row["person_id"]]
        if row["model"] == "send_time" and row["label"] is not None:
            person.best_hour_utc = _hour(row["label"])
        elif row["model"] == "channel":
            if row["label"] in MESSAGE_CHANNELS:
                person.preferred_channel = row["label"]
        elif row["rank"] is None and row["score"] is not None:
            person.scores[row["model"]] = float(row["score"])
    return facts


def _hour(label: str) -> int | None:
    try:
        hour = int(float(label))
    except ValueError:
        return None
    return hour if 0 <= hour <= 23 else None


def person_context(
    facts: PersonFacts,
    now: datetime,
    *,
    timezone: str | None = None,
    recent_sends: Sequence[SentRecord] = (),
    instances: Sequence[EntrySummary] = (),
    caps: Sequence[FrequencyCap] = (),
) -> PersonContext:
    """The engine's view of a person at ``now``.

    ``timezone`` overrides the trait (the zone the person had when their instance began). The
    best send hour is the ``send_time`` model's UTC hour in the person's local time at ``now``,
    so it follows daylight-saving changes.

    Returns:
        A :class:`PersonContext`.

    >>> ctx = person_context(PersonFacts("p1", traits={"email": "a@b.c", "timezone":
    ...     "Asia/Seoul"}, best_hour_utc=1), datetime(2026, 1, 5, tzinfo=UTC))
    >>> ctx.best_send_hour, sorted(ctx.reachable)
    (10, ['email', 'push', 'web_push'])
    """
    zone = timezone or facts.timezone
    best = None
    if facts.best_hour_utc is not None:
        at = now.astimezone(UTC).replace(hour=facts.best_hour_utc, minute=0, second=0)
        best = at.astimezone(person_zone(zone, "UTC")).hour
    return PersonContext(
        person_id=facts.person_id,
        traits=facts.traits,
        timezone=zone,
        best_send_hour=best,
        preferred_channel=facts.preferred_channel,
        scores=facts.scores,
        unsubscribed=facts.unsubscribed(),
        reachable=facts.reachable(),
        recent_sends=tuple(recent_sends),
        instances=tuple(instances),
        caps=tuple(caps),
    )


def recipient(kind: str, channel: str | None, facts: PersonFacts) -> str | None:
    """The address an action goes to: the e-mail for ``email``, the phone for ``sms`` and
    ``whatsapp``, the person id for push channels, the user id for profile updates, none for
    webhooks.

    >>> recipient("message", "sms", PersonFacts("p1", traits={"phone": "+447700900001"}))
    '+447700900001'
    """
    if kind in ("update_traits", "add_to_segment"):
        return facts.user_id
    if channel == "email":
        return _text(facts.traits, "email")
    if channel in ("sms", "whatsapp"):
        return _text(facts.traits, "phone")
    if channel in ("push", "web_push"):
        return facts.person_id
    return None


def _text(traits: Mapping[str, Any], key: str) -> str | None:
    value = traits.get(key)
    return str(value) if value not in (None, "") else None
