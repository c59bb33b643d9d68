"""Read every candidate identifier off the events: one row per (message, type, path, value).

An Ibis expression, so it runs where the events live (DuckDB, Spark). No value is judged here:
``normalise_identifiers`` drops blocked values and keeps, per message and type, the first path
(``path_rank``) whose value survived, as ``IdentifierType.paths`` promises.

Alias messages: their ``user_id`` column and their ``previous_id`` both become identifiers of
edge kind ``alias``. ``previous_id`` is typed ``user_id`` when its (trimmed) value is the
``user_id`` of some message, else ``anonymous_id`` — Segment's ``alias`` is mostly used to tie an
anonymous id to a new user id, and occasionally to rename a user id.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.identity.attach import trim_whitespace
from journeylens.jsontext import with_json_text
from journeylens.schema import EVENTS_SCHEMA
from journeylens.settings import IdentitySettings

__all__ = ["extract_identifiers"]

_NEEDED = ("message_id", "type", "timestamp", "user_id", "anonymous_id", "previous_id")


def extract_identifiers(events: ibis.Table, settings: IdentitySettings) -> ibis.Table:
    """Every candidate identifier of every message.

    Args:
        events: the canonical events table (``schema.EVENTS_SCHEMA``).
        settings: identity settings; each type's ``paths`` say where its values are.

    Returns:
        An Ibis table, one row per (message, type, path) with a non-null value:
        ``message_id``, ``timestamp`` (the message's), ``id_type``, ``raw_value`` (as found),
        ``edge_kind`` (``"alias"`` for an alias message's ``user_id`` and ``previous_id``,
        else ``"message"``), ``path_rank`` (position of the path in the type's ``paths``; 0
        for ``previous_id``).

    Example:
        >>> import ibis
        >>> from journeylens.schema import EVENTS_SCHEMA
        >>> from journeylens.settings import IdentitySettings
        >>> expr = extract_identifiers(ibis.table(EVENTS_SCHEMA, name="events"), IdentitySettings())
        >>> expr.columns
        ('message_id', 'timestamp', 'id_type', 'raw_value', 'edge_kind', 'path_rank')
    """
    missing = [c for c in _NEEDED if c not in events.columns]
    if missing:
        raise ValidationError(
            f"The events table lacks columns {missing}",
            received=list(events.columns),
            allowed=", ".join(EVENTS_SCHEMA.names),
        )
    is_alias = events.type == "alias"
    parts = []
    for id_type in settings.types:
        for rank, path in enumerate(id_type.paths):
            source, value = _path_value(events, path)
            kind = (
                ibis.ifelse(source.type == "alias", "alias", "message")
                if path == "user_id"
                else "message"
            )
            parts.append(_rows(source, id_type.name, value, kind, rank))

    user_ids = events.filter(events.user_id.notnull()).select(
        user_id=trim_whitespace(events.user_id)
    )
    previous = trim_whitespace(events.previous_id)
    previous_type = ibis.ifelse(previous.isin(user_ids.user_id), "user_id", "anonymous_id")
    parts.append(_rows(events.filter(is_alias), previous_type, events.previous_id, "alias", 0))
    return ibis.union(*parts, distinct=False)


def _rows(
    events: ibis.Table,
    id_type: str | ibis.Value,
    value: ibis.Value,
    kind: str | ibis.Value,
    rank: int,
) -> ibis.Table:
    return events.select(
        message_id=events.message_id,
        timestamp=events.timestamp,
        id_type=ibis.literal(id_type, "string") if isinstance(id_type, str) else id_type,
        raw_value=value.cast("string"),
        edge_kind=ibis.literal(kind, "string") if isinstance(kind, str) else kind,
        path_rank=ibis.literal(rank, "int32"),
    ).filter(ibis._.raw_value.notnull())


def _path_value(events: ibis.Table, path: str) -> tuple[ibis.Table, ibis.Value]:
    """The value at ``path`` and the table it is a column of: a string column of ``events``, or
    a key path into a JSON column read once as text (JSON strings as they are, JSON integers as
    their digits, anything else null)."""
    column, *keys = path.split(".")
    if column not in events.columns:
        raise UnknownNameError("events column in an identifier path", column, events.columns)
    dtype = events[column].type()
    if dtype.is_string() and not keys:
        return events, events[column]
    if _is_json(column, dtype) and keys:
        node = events[column].cast("json")
        for key in keys:
            node = node[key]
        read = with_json_text(events, _jl_value=node)
        text = read._jl_value
        # Identifiers are JSON strings or integers; an object or array is no identifier.
        value = ibis.ifelse(text.startswith("{") | text.startswith("["), ibis.null("string"), text)
        return read, value
    raise ValidationError(
        f"Identifier path {path!r} does not lead to a value",
        received=path,
        allowed="a string column (user_id) or keys into a JSON column (traits.email)",
    )


def _is_json(column: str, dtype: dt.DataType) -> bool:
    # On PySpark the JSON columns arrive as plain strings; the canonical schema says which are JSON.
    canonical_json = column in EVENTS_SCHEMA and EVENTS_SCHEMA[column].is_json()
    return dtype.is_json() or (dtype.is_string() and canonical_json)
