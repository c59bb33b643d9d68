"""What the runner reads from the workspace each tick, without touching the whole workspace.

* :func:`fresh_events`: the events received after the runner's cursor, of the names some
  journey reacts to, with their person looked up in the stored identity map. It reads the raw
  ``events`` table, not ``Workspace.events()``: that would re-resolve identities and rebuild the
  enriched table of every event ever stored after each ingest, which is what made a tick cost
  seconds on a large workspace. Identities are resolved again only when a fresh event names an
  identifier the map does not know yet (a new person), or when the caller asks (traits older
  than a minute): see :func:`refresh_for`.
* :func:`segment_members`: who is in a journey's segment now (a saved segment, or the
  journey's own rule), for the entered/left diff.
* :func:`moved_persons`: where persons went whose id disappeared when identities were
  resolved again (they merged into another person, whose id is named by a different
  identifier).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from journeylens.activate.journey import Journey, SegmentEntry, SegmentLeftExit
from journeylens.analysis.segments import SegmentSpec, segment
from journeylens.identity.attach import FALLBACK_PREFIX, attach_person
from journeylens.identity.hashing import hash_strings, hex_ids, node_hashes
from journeylens.store.journeys import JourneyStore
from journeylens.workspace import Workspace

__all__ = ["fresh_events", "journey_segments", "moved_persons", "refresh_for", "segment_members"]


def fresh_events(
    ws: Workspace, store: JourneyStore, names: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """The next ``limit`` events after the ``events`` cursor whose name is in ``names``, in
    ``received_at`` then ``message_id`` order.

    Returns:
        One dict per event: ``message_id``, ``event``, ``timestamp``, ``received_at``,
        ``properties`` (JSON text or None) and ``person_id`` (through the stored ``id_map``:
        ``m_<message_id>`` when neither its user id nor its anonymous id is mapped yet).
    """
    at, seen_sql = store.cursor_view("events")
    raw = ws.table("events")
    fresh = raw.received_at.notnull()
    if at is not None:
        seen = ws.backend.sql(seen_sql)
        fresh = (raw.received_at > at) | (
            (raw.received_at == at) & ~raw.message_id.isin(seen.message_id)
        )
    batch = (
        raw.filter(fresh, raw.event.isin(list(names)))
        .order_by("received_at", "message_id")
        .limit(limit)
    )
    with_person = attach_person(batch, ws.table("id_map"), ws.settings.identity)
    return (
        with_person.select(
            "message_id",
            "event",
            "timestamp",
            "received_at",
            "person_id",
            properties=with_person.properties.cast("string"),
        )
        .order_by("received_at", "message_id")
        .to_pyarrow()
        .to_pylist()
    )


def refresh_for(ws: Workspace, rows: Sequence[dict[str, Any]], *, force: bool = False) -> bool:
    """Resolve identities again if they are stale and ``force`` is set or a row's person is
    unknown to the map (its id is the ``m_`` fallback). Returns whether they were resolved."""
    unknown = any(r["person_id"].startswith(FALLBACK_PREFIX) for r in rows)
    return (force or unknown) and ws.refresh_identities()


def journey_segments(journeys: Collection[Journey]) -> dict[tuple[str, str], SegmentSpec | None]:
    """The segments the journeys enter on or exit on, keyed by ``(journey_id, segment name)``:
    the journey's own rule as a spec, or None for a saved segment of that name. Versions of one
    journey share a key and so one remembered member list; where they give one name different
    rules, the version given last (pass the live one last) decides."""
    found: dict[tuple[str, str], SegmentSpec | None] = {}
    for journey in journeys:
        if isinstance(journey.entry, SegmentEntry):
            rule = journey.entry.rule
            key = (journey.id, journey.entry.segment)
            found[key] = SegmentSpec(rule=rule) if rule is not None else found.get(key)
        for rule in journey.exits:
            if isinstance(rule, SegmentLeftExit):
                found.setdefault((journey.id, rule.segment), None)
    return found


def segment_members(ws: Workspace, name: str, spec: SegmentSpec | None, now: datetime) -> set[str]:
    """The members of a journey's rule (``spec``) or of the saved segment ``name`` (``spec``
    None). A rule without its own ``as_of`` is evaluated as of ``now`` (the tick's instant,
    not the latest event), so "within 3h" means three hours before the tick.

    Returns:
        The member person ids.
    """
    if spec is None:
        saved = {s["name"]: s for s in ws.segments()}.get(name)
        if saved is None or saved["analysis"] != "segment":
            # RFM segments, and unknown names (the workspace's error names the saved ones).
            return set(ws.segment_members(name).person_ids)
        spec = SegmentSpec.model_validate(saved["spec"])
    if spec.as_of is None:
        spec = spec.model_copy(update={"as_of": now})
    return set(segment(ws.events(), spec).person_ids)


def moved_persons(ws: Workspace, gone: Collection[str]) -> dict[str, str]:
    """Where the persons ``gone`` (ids the identity map no longer holds) went.

    A person's id is named after their best identifier; when they merge into someone whose
    best identifier ranks higher, the merged person takes that other name and the old one
    disappears. The identifier that named the old person is still in the map, under its new
    person: naming every identifier the way persons are named finds it.

    Returns:
        ``{old person_id: new person_id}`` for the ids found; an id whose identifier is gone
        too (an erased person) is left out.
    """
    if not gone:
        return {}
    rows = ws.table("id_map").select("id_type", "id_value", "person_id").to_pyarrow()
    types = hash_strings(rows.column("id_type"))
    named = hex_ids("p_", node_hashes(types, hash_strings(rows.column("id_value"))))
    hit = pc.is_in(named, value_set=pa.array(sorted(gone), pa.string()))
    found = pa.table({"old": named, "new": rows.column("person_id")}).filter(hit)
    return dict(zip(found.column("old").to_pylist(), found.column("new").to_pylist(), strict=True))
