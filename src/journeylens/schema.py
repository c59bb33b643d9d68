"""The vocabulary: canonical table layouts shared by every layer.

``events`` holds one row per accepted message (see DESIGN.md, "Canonical events"). JSON columns
(``properties``, ``context``, ``traits``) are JSON text, so every Ibis backend can read them.
Derived columns (``person_id``, ``channel``, ``session_id``, ``stage``) are added by
``Workspace.events()`` and are not stored in ``events``.
"""

from __future__ import annotations

from typing import Final, Literal

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa

__all__ = [
    "API_KEYS_SCHEMA",
    "CHANNELS",
    "EVENTS_ARROW_SCHEMA",
    "EVENTS_SCHEMA",
    "EXPLICIT_CHANNELS",
    "IDENTIFIERS_SCHEMA",
    "ID_MAP_SCHEMA",
    "MERGE_LOG_SCHEMA",
    "MESSAGE_TYPES",
    "PERSONS_SCHEMA",
    "PREDICTIONS_SCHEMA",
    "QUARANTINE_SCHEMA",
    "SCHEMA_VERSION",
    "STAGES",
    "SUPPRESSED_IDENTIFIERS_SCHEMA",
    "MessageType",
    "Stage",
]

#: Bumped whenever a stored table changes layout; ``store.migrations`` upgrades older workspaces.
SCHEMA_VERSION: Final = 6

MessageType = Literal["track", "identify", "page", "screen", "group", "alias"]
MESSAGE_TYPES: Final[tuple[str, ...]] = ("track", "identify", "page", "screen", "group", "alias")

Stage = Literal["awareness", "consideration", "purchase", "retention", "advocacy"]
STAGES: Final[tuple[str, ...]] = ("awareness", "consideration", "purchase", "retention", "advocacy")

#: Every value ``channel`` can take: GA4's default channel group, in rule order, then the
#: first-party channels journeylens adds, then the catch-all.
CHANNELS: Final[tuple[str, ...]] = (
    "Direct",
    "Cross-network",
    "Paid Shopping",
    "Paid Search",
    "Paid Social",
    "Paid Video",
    "Display",
    "Paid Other",
    "Organic Shopping",
    "Organic Social",
    "Organic Video",
    "Organic Search",
    "Referral",
    "Email",
    "Affiliates",
    "Audio",
    "SMS",
    "Mobile Push Notifications",
    "Web Push",
    "WhatsApp",
    "In-App",
    "Offline Store",
    "Call Centre",
    "Unassigned",
)

#: Values of ``context.channel`` (a journeylens extension) that name a first-party channel
#: outright: messages journeylens or an ESP sends, store (POS) and call-centre (CTI) imports.
EXPLICIT_CHANNELS: Final[dict[str, str]] = {
    "email": "Email",
    "sms": "SMS",
    "push": "Mobile Push Notifications",
    "mobile_push": "Mobile Push Notifications",
    "web_push": "Web Push",
    "whatsapp": "WhatsApp",
    "in_app": "In-App",
    "store": "Offline Store",
    "offline_store": "Offline Store",
    "call_centre": "Call Centre",
    "call_center": "Call Centre",
}

_TS = dt.Timestamp(timezone="UTC")

#: The stored, canonical events table.
EVENTS_SCHEMA: Final = ibis.schema(
    {
        "message_id": dt.String(nullable=False),
        "type": dt.String(nullable=False),
        "event": dt.string,  # track event name; page/screen name; null otherwise
        "anonymous_id": dt.string,
        "user_id": dt.string,
        "previous_id": dt.string,  # alias only
        "group_id": dt.string,  # group only (also context.groupId)
        "timestamp": _TS,  # when it happened, skew-corrected, UTC
        "received_at": _TS,  # when journeylens (or the original collector) received it
        "source": dt.string,  # write key, file name or "api"
        "properties": dt.json,
        "context": dt.json,
        "traits": dt.json,
        "revenue": dt.float64,
        "currency": dt.string,
    }
)

EVENTS_ARROW_SCHEMA: Final = pa.schema(
    [
        pa.field("message_id", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("event", pa.string()),
        pa.field("anonymous_id", pa.string()),
        pa.field("user_id", pa.string()),
        pa.field("previous_id", pa.string()),
        pa.field("group_id", pa.string()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("received_at", pa.timestamp("us", tz="UTC")),
        pa.field("source", pa.string()),
        pa.field("properties", pa.string()),
        pa.field("context", pa.string()),
        pa.field("traits", pa.string()),
        pa.field("revenue", pa.float64()),
        pa.field("currency", pa.string()),
    ]
)

#: Rows that failed validation, kept whole so nothing is lost. ``row_key`` (a hash of source,
#: row and raw payload) keeps a re-ingested file from quarantining its bad rows twice.
QUARANTINE_SCHEMA: Final = ibis.schema(
    {
        "row_key": dt.String(nullable=False),
        "batch_id": dt.String(nullable=False),
        "row": dt.int64,  # 0-based position in the source
        "field": dt.string,
        "code": dt.String(nullable=False),
        "message": dt.String(nullable=False),
        "raw": dt.String(nullable=False),  # the row as received (JSON text or the raw line)
        "source": dt.string,
        "received_at": _TS,
    }
)

#: Every identifier seen on a message (the identity graph's nodes, with where they came from).
IDENTIFIERS_SCHEMA: Final = ibis.schema(
    {
        "message_id": dt.String(nullable=False),
        "timestamp": _TS,
        "id_type": dt.String(nullable=False),
        "id_value": dt.String(nullable=False),  # normalised
        "edge_kind": dt.String(nullable=False),  # "message" | "alias"
    }
)

#: Output of identity resolution: every identifier → the person it belongs to.
ID_MAP_SCHEMA: Final = ibis.schema(
    {
        "id_type": dt.String(nullable=False),
        "id_value": dt.String(nullable=False),
        "person_id": dt.String(nullable=False),
    }
)

#: Every merge and refusal the resolver made, so a bad merge can be found and undone.
MERGE_LOG_SCHEMA: Final = ibis.schema(
    {
        "edge_id": dt.String(nullable=False),
        "left_type": dt.String(nullable=False),
        "left_value": dt.String(nullable=False),
        "right_type": dt.String(nullable=False),
        "right_value": dt.String(nullable=False),
        "edge_kind": dt.String(nullable=False),
        "first_seen": _TS,
        "message_id": dt.string,  # the first message that carried the edge
        "outcome": dt.String(nullable=False),  # merged | refused_* | invalidated
        "reason": dt.string,
    }
)

#: One row per person: latest traits (newest value of each trait wins), first and last seen.
PERSONS_SCHEMA: Final = ibis.schema(
    {
        "person_id": dt.String(nullable=False),
        "user_id": dt.string,
        "traits": dt.json,
        "first_seen": _TS,
        "last_seen": _TS,
        "identifier_count": dt.int64,
        "message_count": dt.int64,
    }
)

#: Per-person scores of the predictive models, one row per person and model (a model that gives
#: a list, such as recommendations, has one row per item). ``score`` is the model's number (a
#: probability, a value), ``label`` its answer in words (a product, an hour, a channel), ``details``
#: and ``reasons`` JSON text; a new scoring run of a model replaces all of that model's rows.
PREDICTIONS_SCHEMA: Final = ibis.schema(
    {
        "model": dt.String(nullable=False),
        "model_version": dt.string,
        "as_of": _TS,
        "person_id": dt.string,
        "rank": dt.int32,
        "score": dt.float64,
        "label": dt.string,
        "details": dt.string,
        "reasons": dt.string,
        "scored_at": _TS,
    }
)

#: API keys (schema version 4). Only a salted SHA-256 of each key's secret is stored; ``key_id``
#: is the public part every key text carries, ``role`` one of write | read | admin, and a revoked
#: key keeps its row (with ``revoked_at``) so listings show what was revoked and when.
API_KEYS_SCHEMA: Final = ibis.schema(
    {
        "key_id": dt.String(nullable=False),
        "name": dt.string,
        "role": dt.String(nullable=False),
        "salt": dt.String(nullable=False),
        "secret_hash": dt.String(nullable=False),
        "created_at": _TS,
        "revoked_at": _TS,
    }
)

#: Identifiers of erased persons (schema version 4), kept only as a SHA-256 of type and
#: normalised value so the list itself holds no personal data. Ingest drops messages that carry
#: one and identity resolution ignores them, so erased persons do not come back.
SUPPRESSED_IDENTIFIERS_SCHEMA: Final = ibis.schema(
    {
        "id_hash": dt.String(nullable=False),
        "id_type": dt.String(nullable=False),
        "suppressed_at": _TS,
    }
)
