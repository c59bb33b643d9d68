"""One person's data: profile, timeline and everything held about them (customer 360, GDPR).

Queries over the workspace's tables (Ibis expressions, run where the data lives); only one
person's rows come back to Python. ``Workspace.person``, ``person_timeline`` and
``export_person`` call these with its tables; the API and the dashboard call the workspace.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, Final

import ibis

from journeylens.errors import NotFoundError, ValidationError

__all__ = [
    "TIMELINE_COLUMNS",
    "person_identifiers",
    "person_profile",
    "person_records",
    "person_scores",
    "person_timeline",
    "quarantined_rows",
    "raw_values",
    "unknown_person",
]

#: Columns of a timeline entry: what happened, when, on which channel, in which journey stage.
TIMELINE_COLUMNS: Final = (
    "message_id",
    "timestamp",
    "type",
    "event",
    "channel",
    "stage",
    "session_id",
    "source",
    "revenue",
    "currency",
    "properties",
    "context",
)
_JSON_COLUMNS: Final = ("properties", "context", "traits")


def person_identifiers(id_map: ibis.Table, person_id: str) -> list[dict[str, str]]:
    """The person's identifiers, sorted by type and value.

    Returns:
        One dict per identifier: ``id_type`` and ``id_value`` (normalised).
    """
    rows = id_map.filter(id_map.person_id == person_id).select("id_type", "id_value")
    return sorted(rows.to_pyarrow().to_pylist(), key=lambda r: (r["id_type"], r["id_value"]))


def person_scores(predictions: ibis.Table, person_id: str) -> list[dict[str, Any]]:
    """The person's stored predictions, by model then rank.

    Returns:
        One dict per row of ``schema.PREDICTIONS_SCHEMA`` without ``person_id``; ``details``
        and ``reasons`` as JSON values.
    """
    rows = predictions.filter(predictions.person_id == person_id).to_pyarrow().to_pylist()
    rows.sort(key=lambda r: (r["model"], r["rank"] if r["rank"] is not None else 0))
    return [
        {k: _parsed(v) if k in ("details", "reasons") else v for k, v in r.items()}
        for r in ({k: v for k, v in r.items() if k != "person_id"} for r in rows)
    ]


def person_profile(
    persons: ibis.Table, id_map: ibis.Table, predictions: ibis.Table, person_id: str
) -> dict[str, Any]:
    """The customer-360 header of one person.

    Returns:
        ``person_id``, ``user_id`` (latest), ``traits`` (newest value of each), ``first_seen``,
        ``last_seen``, ``identifier_count``, ``message_count``, ``identifiers`` (see
        ``person_identifiers``) and ``scores`` (see ``person_scores``). Raises ``NotFoundError``
        for an id that is not a person.
    """
    found = persons.filter(persons.person_id == person_id).to_pyarrow().to_pylist()
    if not found:
        raise unknown_person(person_id)
    row = found[0]
    row["traits"] = _parsed(row["traits"]) or {}
    return row | {
        "identifiers": person_identifiers(id_map, person_id),
        "scores": person_scores(predictions, person_id),
    }


def person_timeline(
    events: ibis.Table, person_id: str, *, cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    """A page of the person's events on every channel, newest first.

    Pages are cut by position in the order (timestamp, then message id, both descending), not
    by an offset, so events arriving between two calls neither repeat nor skip entries.

    Returns:
        ``person_id``; ``events``: up to ``limit`` entries with ``TIMELINE_COLUMNS``
        (``properties`` and ``context`` as JSON values); ``next_cursor``: pass it as ``cursor``
        for the next (older) page, null on the last page.
    """
    mine = events.filter(events.person_id == person_id)
    if cursor is not None:
        at, message_id = _decode(cursor)
        mine = mine.filter(
            (mine.timestamp < at) | ((mine.timestamp == at) & (mine.message_id < message_id))
        )
    order = [mine.timestamp.desc(), mine.message_id.desc()]
    page = mine.select(*TIMELINE_COLUMNS).order_by(order).limit(limit + 1)
    rows = page.to_pyarrow().to_pylist()
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        for column in ("properties", "context"):
            row[column] = _parsed(row[column])
    last = rows[-1] if rows and more else None
    next_cursor = _encode(last["timestamp"], last["message_id"]) if last else None
    return {"person_id": person_id, "events": rows, "next_cursor": next_cursor}


def person_records(
    events: ibis.Table,
    merge_log: ibis.Table,
    quarantine: ibis.Table,
    person_id: str,
    identifier_values: list[str],
) -> dict[str, list[dict[str, Any]]]:
    """Every stored row about one person, for an access request.

    Returns:
        ``events``: every event of theirs, oldest first, all columns of ``events`` (JSON
        columns as JSON values); ``merge_log``: identity decisions that name one of
        ``identifier_values``; ``quarantine``: rejected rows that name one of their identifiers
        (see ``quarantined_rows``).
    """
    mine = events.filter(events.person_id == person_id)
    rows = mine.order_by([mine.timestamp, mine.message_id]).to_pyarrow().to_pylist()
    for row in rows:
        row.update({c: _parsed(row[c]) for c in _JSON_COLUMNS if c in row})
    log = merge_log.filter(
        merge_log.left_value.isin(identifier_values) | merge_log.right_value.isin(identifier_values)
    )
    rejected = quarantined_rows(quarantine, raw_values(events, person_id, identifier_values))
    return {
        "events": rows,
        "merge_log": log.to_pyarrow().to_pylist(),
        "quarantine": rejected.to_pyarrow().to_pylist(),
    }


def raw_values(events: ibis.Table, person_id: str, identifier_values: list[str]) -> list[str]:
    """The person's identifier values both normalised and as sent (their events' user and
    anonymous ids), to find their rows where only the raw payload is kept.

    Returns:
        The distinct non-empty values, sorted.
    """
    mine = events.filter(events.person_id == person_id)
    sent = mine.select("user_id", "anonymous_id").distinct().to_pyarrow()
    found = sent.column("user_id").to_pylist() + sent.column("anonymous_id").to_pylist()
    return sorted({v for v in [*identifier_values, *found] if v})


def quarantined_rows(quarantine: ibis.Table, values: list[str]) -> ibis.Table:
    """Quarantined rows whose raw payload names one of ``values`` as a JSON string (case
    ignored): a rejected message of the person's, kept whole with their identifiers in it."""
    if not values:
        return quarantine.filter(ibis.literal(False))
    raw = quarantine.raw.lower()
    condition = ibis.literal(False)
    for value in sorted(set(values)):
        condition = condition | raw.contains(json.dumps(value.lower()))
    return quarantine.filter(condition)


def unknown_person(person_id: str) -> NotFoundError:
    """The error for an id that names no person (it lists no ids: they are personal data)."""
    return NotFoundError(
        "No person with this id",
        received=person_id,
        fix="Person ids look like p_0123456789abcdef; find them in segments or analyses",
    )


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _encode(timestamp: datetime, message_id: str) -> str:
    text = json.dumps([timestamp.isoformat(), message_id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, message_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not isinstance(message_id, str):
            raise ValueError("not a cursor")
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValidationError(
            "The cursor is not one this API gave out",
            received=cursor,
            fix="Pass the next_cursor of the previous page, or no cursor for the first page",
        ) from exc
    return moment, message_id
