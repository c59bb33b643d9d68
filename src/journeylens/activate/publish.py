"""Publishing journeys into a workspace: versions, pausing, and reading them back.

Publishing a journey stores its definition under its content hash. Publishing an edited
definition adds a new version that takes the new entries; running instances stay on the version
they began on (the older one is ``retired``: it takes no entries but its instances go on).
Publishing the same definition again changes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from journeylens.activate.journey import Journey, parse_journey
from journeylens.errors import UnknownNameError
from journeylens.store.journeys import JourneyStore, utc
from journeylens.workspace import Workspace

__all__ = [
    "journey_store",
    "journey_version",
    "list_journeys",
    "pause_journey",
    "publish_journey",
]


def journey_store(ws: Workspace) -> JourneyStore:
    """The journey tables of ``ws`` (an embedded DuckDB workspace)."""
    return JourneyStore(ws.backend)


def publish_journey(ws: Workspace, journey: Journey, now: datetime | None = None) -> dict[str, Any]:
    """Store ``journey`` as the live version of its id.

    Returns:
        ``journey_id``, ``version`` (the content hash), ``created`` (False when this exact
        definition was already published) and ``status`` (``live``, or ``paused`` when the
        journey is paused).

    >>> from journeylens.activate.templates import load_template
    >>> ws = Workspace.open()
    >>> publish_journey(ws, load_template("welcome_series"))["created"]
    True
    """
    store = journey_store(ws)
    created = store.publish(
        journey.id,
        journey.content_hash,
        # What the author wrote, not the defaults: a definition re-read must validate as the
        # same journey (its hash covers the defaults either way).
        journey.model_dump_json(exclude_unset=True),
        journey.priority,
        now or datetime.now(UTC),
    )
    status = next(
        r["status"] for r in store.versions(journey.id) if r["version"] == journey.content_hash
    )
    return {
        "journey_id": journey.id,
        "version": journey.content_hash,
        "created": created,
        "status": status,
    }


def pause_journey(ws: Workspace, journey_id: str, *, paused: bool = True) -> dict[str, Any]:
    """Pause a journey (no entries, no timers, no sends until resumed) or resume it.

    Returns:
        ``journey_id`` and ``status`` after the change.
    """
    store = journey_store(ws)
    _known(store, journey_id)
    store.set_paused(journey_id, paused)
    return {"journey_id": journey_id, "status": "paused" if paused else "live"}


def list_journeys(ws: Workspace) -> list[dict[str, Any]]:
    """Every published journey, by id.

    Returns:
        One dict per journey: ``journey_id``, ``name``, ``version`` (the newest),
        ``status`` (of the newest version: ``live`` or ``paused``), ``priority``,
        ``published_at`` (ISO text), ``versions`` (how many were published).
    """
    found: dict[str, dict[str, Any]] = {}
    for row in journey_store(ws).versions():
        entry = found.get(row["journey_id"])
        if entry is None:
            journey = journey_version(row["definition"])
            found[row["journey_id"]] = {
                "journey_id": row["journey_id"],
                "name": journey.name,
                "version": row["version"],
                "status": row["status"],
                "priority": row["priority"],
                "published_at": utc(row["published_at"]).isoformat(),
                "versions": 1,
            }
        else:
            entry["versions"] += 1
    return [found[k] for k in sorted(found)]


@lru_cache(maxsize=256)
def journey_version(definition: str) -> Journey:
    """The journey stored as ``definition`` (JSON text), parsed once per process."""
    return parse_journey(json.loads(definition), origin="stored journey")


def _known(store: JourneyStore, journey_id: str) -> None:
    known = {r["journey_id"] for r in store.versions()}
    if journey_id not in known:
        raise UnknownNameError("journey", journey_id, sorted(known))
