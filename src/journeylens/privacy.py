"""Suppressed identifiers: what keeps an erased person erased.

Erasing a person (``Workspace.erase_person``) deletes their data and records each of their
identifiers as a SHA-256 of its type and normalised value, so the list itself holds no personal
data. Two places consult it: ingest drops every new message that carries a suppressed identifier
(a replayed journal, an SDK's retry queue, a re-imported file), and identity resolution ignores
suppressed identifiers still mentioned by other persons' messages. Identifiers are compared after
the identity layer's own normalisation, so ``Ann@Example.com `` and ``ann@example.com`` are one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Set
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.identity import extract_identifiers, normalise_identifiers
from journeylens.profiles import person_identifiers, quarantined_rows, raw_values, unknown_person
from journeylens.schema import SUPPRESSED_IDENTIFIERS_SCHEMA
from journeylens.settings import IdentitySettings
from journeylens.store import Catalog

__all__ = [
    "erase_person",
    "erasure_summary",
    "identifier_hash",
    "kept_models",
    "messages_with_suppressed",
    "suppressed_hashes",
    "suppressed_mask",
    "without_suppressed",
]


def identifier_hash(id_type: str, id_value: str) -> str:
    """Hex SHA-256 naming one normalised identifier.

    >>> identifier_hash("email", "ann@example.com")[:12]
    '6aa41b91307c'
    """
    return hashlib.sha256(f"{id_type}\x1f{id_value}".encode()).hexdigest()


def suppressed_mask(identifiers: pa.Table, hashes: Set[str]) -> pa.ChunkedArray:
    """Which rows of ``identifiers`` (columns ``id_type``, ``id_value``) are suppressed.

    Each distinct identifier is hashed once: a resolution's table repeats a few identifiers
    over many rows.

    Returns:
        A boolean array, one entry per row: True where the row's identifier is in ``hashes``.

    >>> ids = pa.table({"id_type": ["email", "user_id"], "id_value": ["ann@example.com", "u1"]})
    >>> suppressed_mask(ids, {identifier_hash("user_id", "u1")}).to_pylist()
    [False, True]
    """
    keys = pc.binary_join_element_wise(
        identifiers.column("id_type"), identifiers.column("id_value"), "\x1f"
    )
    if not hashes or identifiers.num_rows == 0:
        return pa.chunked_array([pa.array([False] * identifiers.num_rows, pa.bool_())])
    hit = [
        key
        for key in pc.unique(keys).to_pylist()
        if key is not None and hashlib.sha256(key.encode()).hexdigest() in hashes
    ]
    return pc.fill_null(pc.is_in(keys, value_set=pa.array(hit, pa.string())), False)


def messages_with_suppressed(
    events: ibis.Table, settings: IdentitySettings, hashes: Set[str]
) -> set[str]:
    """The ``message_id`` of every message in ``events`` that carries a suppressed identifier.

    Args:
        events: canonical events (``schema.EVENTS_SCHEMA``; JSON columns may be text).
        settings: the identity settings that say where identifiers are and how they normalise.
        hashes: ``identifier_hash`` of every suppressed identifier.

    Returns:
        The message ids, empty when nothing is suppressed.
    """
    if not hashes:
        return set()
    raw = extract_identifiers(events, settings, collapse=False).to_pyarrow()
    table = normalise_identifiers(raw, settings).table
    mask = suppressed_mask(table, hashes)
    return set(table.filter(mask).column("message_id").to_pylist())


def suppressed_hashes(catalog: Catalog) -> frozenset[str]:
    """Every suppressed identifier's hash (a small table: one row per erased identifier)."""
    table = catalog.table("suppressed_identifiers")
    return frozenset(table.id_hash.to_pyarrow().to_pylist())


def without_suppressed(
    catalog: Catalog, rows: pa.Table, settings: IdentitySettings, hashes: Set[str]
) -> pa.Table:
    """``rows`` (staged events, Arrow) without the messages that carry a suppressed identifier.

    Returns:
        The rows kept, in their order; ``rows`` itself when nothing is suppressed.
    """
    if not hashes or rows.num_rows == 0:
        return rows
    with catalog.uploaded(rows) as staged:
        drop = messages_with_suppressed(staged, settings, hashes)
    if not drop:
        return rows
    keep = pc.invert(pc.is_in(rows.column("message_id"), value_set=pa.array(sorted(drop))))
    return rows.filter(keep)


def erase_person(
    catalog: Catalog,
    events: ibis.Table,
    quarantine: ibis.Table,
    person_id: str,
    *,
    now: datetime,
) -> dict[str, Any]:
    """Suppress a person's identifiers, then delete their stored rows.

    Suppression comes first: if the process dies half-way, nothing the person sends again can
    be stored, and erasing again finishes the job. The caller rebuilds the derived tables
    (identities, enriched events) afterwards.

    Args:
        catalog: the workspace's tables.
        events: the enriched events (with ``person_id``) as they were before the erasure.
        quarantine: the quarantine table.
        person_id: whom to erase; ``NotFoundError`` if no identifier maps to them.
        now: the time recorded on the suppressions.

    Returns:
        ``person_id``; ``events``, ``predictions``, ``quarantine``: rows deleted;
        ``identifiers``: identifiers suppressed.
    """
    identifiers = person_identifiers(catalog.table("id_map"), person_id)
    if not identifiers:
        raise unknown_person(person_id)
    values = [i["id_value"] for i in identifiers]
    sent = raw_values(events, person_id, values)
    mine = events.filter(events.person_id == person_id)
    message_ids = mine.message_id.to_pyarrow().to_pylist()
    rows = pa.table(
        {
            "id_hash": [identifier_hash(i["id_type"], i["id_value"]) for i in identifiers],
            "id_type": [i["id_type"] for i in identifiers],
            "suppressed_at": pa.array([now] * len(identifiers), pa.timestamp("us", "UTC")),
        }
    )
    catalog.append("suppressed_identifiers", rows, SUPPRESSED_IDENTIFIERS_SCHEMA, key="id_hash")
    rejected = quarantined_rows(quarantine, sent).row_key.to_pyarrow().to_pylist()
    return {
        "person_id": person_id,
        "events": catalog.delete_where_in("events", "message_id", message_ids),
        "predictions": catalog.delete_where_in("predictions", "person_id", [person_id]),
        "quarantine": catalog.delete_where_in("quarantine", "row_key", rejected),
        "identifiers": len(identifiers),
    }


def kept_models(folder: Path | None) -> list[dict[str, str]]:
    """The trained model files of a workspace folder, which an erasure keeps.

    A trained model (``predict.persistence``: churn, conversion, clv) is fitted parameters over
    every person's history, with no per-person rows: nothing in it can be deleted for one
    person, and its scores live in the ``predictions`` table, which the erasure clears.

    Returns:
        One ``{"model", "file", "kept_because"}`` per ``models/*.joblib`` file, by name; empty
        for a workspace without a folder or models.
    """
    if folder is None:
        return []
    return [
        {
            "model": path.stem,
            "file": str(path.relative_to(folder)),
            "kept_because": "an aggregate fitted over all persons; it holds no per-person rows "
            "(its scores are in the predictions table, erased)",
        }
        for path in sorted((folder / "models").glob("*.joblib"))
    ]


def erasure_summary(counts: dict[str, Any], models: list[dict[str, str]]) -> list[str]:
    """What an erasure did, where, as sentences for the person who asked.

    >>> erasure_summary({"events": 3, "predictions": 1, "quarantine": 0, "identifiers": 2}, [])[0]
    'events: 3 rows deleted from the events table (and the enriched events rebuilt)'
    """
    lines = [
        f"events: {counts['events']} rows deleted from the events table "
        "(and the enriched events rebuilt)",
        f"predictions: {counts['predictions']} rows deleted from the predictions table "
        "(every model's stored scores and reasons)",
        f"quarantine: {counts['quarantine']} rejected rows carrying their identifiers deleted",
        f"identifiers: {counts['identifiers']} suppressed (kept only as SHA-256 hashes in "
        "suppressed_identifiers, so later or replayed events are dropped)",
        "identities, traits and segment memberships: rebuilt without the person",
    ]
    lines += [f"{m['file']}: kept, {m['kept_because']}" for m in models]
    return lines
