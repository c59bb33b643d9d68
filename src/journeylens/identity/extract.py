"""Read every candidate identifier off the events: one row per (message, type, path, value).

An Ibis expression, so it runs where the events live (DuckDB, Spark). No value is judged here:
``normalise_identifiers`` drops blocked values and keeps, per message and type, the first path
(``path_rank``) whose value survived, as ``IdentifierType.paths`` promises.

Most messages repeat the identifiers of an earlier one (a thousand page views of one anonymous
id), so by default the engine first collapses messages that carry exactly the same raw values
into one group, named by its first message, with a ``weight`` (how many messages it stands
for). Every later step is a function of a message's identifiers, so a group gives the same
nodes and edges as its messages did; support and blocked counts add up weights, and a group's
first timestamp and message are the minimum over its messages, so "first seen" is unchanged.
At ten million events this hands Python a few rows per identifier instead of two per event.

Alias messages: their ``user_id`` column and their ``previous_id`` both become identifiers of
edge kind ``alias``. ``previous_id`` is typed ``user_id`` when its (trimmed) value is the
``user_id`` of some message, else ``anonymous_id`` — Segment's ``alias`` is mostly used to tie an
anonymous id to a new user id, and occasionally to rename a user id.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.identity.attach import trim_whitespace
from journeylens.jsontext import with_json_text
from journeylens.schema import EVENTS_SCHEMA
from journeylens.settings import IdentitySettings

__all__ = ["extract_identifiers"]

_NEEDED = ("message_id", "type", "timestamp", "user_id", "anonymous_id", "previous_id")
_ALIAS = "_jl_alias"
_PREVIOUS = "_jl_previous"
_WEIGHT = "weight"


@dataclass(frozen=True)
class _Slot:
    """One (type, path) of the settings: where its value sits in the wide table."""

    column: str
    id_type: str
    rank: int
    path: str


def extract_identifiers(
    events: ibis.Table, settings: IdentitySettings, *, collapse: bool = True
) -> ibis.Table:
    """Every candidate identifier of every message (or of every group of alike messages).

    Args:
        events: the canonical events table (``schema.EVENTS_SCHEMA``).
        settings: identity settings; each type's ``paths`` say where its values are.
        collapse: group messages whose raw identifier values are all equal (see the module
            docstring). ``False`` gives one row set per message, for callers that need each
            message's own identifiers.

    Returns:
        An Ibis table, one row per (message, type, path) with a non-null value:
        ``message_id``, ``timestamp`` (the message's), ``id_type``, ``raw_value`` (as found),
        ``edge_kind`` (``"alias"`` for an alias message's ``user_id`` and ``previous_id``,
        else ``"message"``), ``path_rank`` (position of the path in the type's ``paths``; 0
        for ``previous_id``), ``weight`` (int64: messages the row stands for). Collapsed, a
        "message" is a group of messages with the same raw values: ``message_id`` and
        ``timestamp`` are those of its first message (smallest timestamp, nulls last, then
        smallest ``message_id``) and ``weight`` its size; else ``weight`` is 1.

    Example:
        >>> import ibis
        >>> from journeylens.schema import EVENTS_SCHEMA
        >>> from journeylens.settings import IdentitySettings
        >>> expr = extract_identifiers(ibis.table(EVENTS_SCHEMA, name="events"), IdentitySettings())
        >>> expr.columns
        ('message_id', 'timestamp', 'id_type', 'raw_value', 'edge_kind', 'path_rank', 'weight')
    """
    missing = [c for c in _NEEDED if c not in events.columns]
    if missing:
        raise ValidationError(
            f"The events table lacks columns {missing}",
            received=list(events.columns),
            allowed=", ".join(EVENTS_SCHEMA.names),
        )
    wide, slots = _wide(events, settings)
    keys = [_ALIAS, *(slot.column for slot in slots), _PREVIOUS]
    if collapse:
        first = ibis.window(
            group_by=keys,
            order_by=[ibis.asc("timestamp", nulls_first=False), ibis.asc("message_id")],
        )
        wide = wide.mutate(
            _jl_first=ibis.row_number().over(first),
            **{_WEIGHT: wide.message_id.count().over(ibis.window(group_by=keys)).cast("int64")},
        )
        wide = wide.filter(wide._jl_first == 0).drop("_jl_first")
    else:
        wide = wide.mutate(**{_WEIGHT: ibis.literal(1, "int64")})

    user_ids = events.filter(events.user_id.notnull()).select(
        user_id=trim_whitespace(events.user_id)
    )
    # Typed once per (collapsed) message, before the unpivot multiplies the rows.
    wide = wide.mutate(
        _jl_previous_type=ibis.ifelse(
            trim_whitespace(wide[_PREVIOUS]).isin(user_ids.user_id), "user_id", "anonymous_id"
        )
    )
    # Unpivot with one pass over the (collapsed) table: a union of one select per slot would
    # make the engine compute the collapse once per slot.
    slot = ibis.memtable({"_jl_slot": list(range(len(slots) + 1))})
    long = wide.cross_join(slot)
    at = long._jl_slot
    is_alias = long[_ALIAS]
    last = len(slots)
    return long.select(
        message_id=long.message_id,
        timestamp=long.timestamp,
        id_type=_pick(at, [s.id_type for s in slots], long._jl_previous_type),
        raw_value=_pick(at, [long[s.column] for s in slots], long[_PREVIOUS]).cast("string"),
        edge_kind=ibis.ifelse(
            (at == last)
            | (is_alias & at.isin([i for i, s in enumerate(slots) if s.path == "user_id"])),
            "alias",
            "message",
        ),
        path_rank=_pick(at, [s.rank for s in slots], 0).cast("int32"),
        weight=long[_WEIGHT],
    ).filter(ibis._.raw_value.notnull())


def _pick(at: ibis.IntegerValue, values: list, last: object) -> ibis.Value:
    """``values[at]``, or ``last`` when ``at`` is past them."""
    return ibis.cases(*((at == i, value) for i, value in enumerate(values)), else_=last)


def _wide(events: ibis.Table, settings: IdentitySettings) -> tuple[ibis.Table, list[_Slot]]:
    """One row per message: ``message_id``, ``timestamp``, whether it is an alias, one string
    column per (type, path) of the settings, and ``previous_id`` for alias messages. Every JSON
    path is read once, in one pass."""
    slots: list[_Slot] = []
    plain: dict[str, str] = {}
    json_nodes: dict[str, ibis.Value] = {}
    for id_type in settings.types:
        for rank, path in enumerate(id_type.paths):
            slot = _Slot(f"_jl_v{len(slots)}", id_type.name, rank, path)
            column, *keys = path.split(".")
            if column not in events.columns:
                raise UnknownNameError(
                    "events column in an identifier path", column, events.columns
                )
            dtype = events[column].type()
            if dtype.is_string() and not keys:
                plain[slot.column] = column
            elif _is_json(column, dtype) and keys:
                node = events[column].cast("json")
                for key in keys:
                    node = node[key]
                json_nodes[slot.column] = node
            else:
                raise ValidationError(
                    f"Identifier path {path!r} does not lead to a value",
                    received=path,
                    allowed="a string column (user_id) or keys into a JSON column (traits.email)",
                )
            slots.append(slot)
    read = with_json_text(events, **json_nodes) if json_nodes else events
    is_alias = read.type == "alias"
    values = {}
    for slot in slots:
        if slot.column in plain:
            values[slot.column] = read[plain[slot.column]].cast("string")
        else:
            text = read[slot.column]
            # Identifiers are JSON strings or integers; an object or array is no identifier.
            values[slot.column] = ibis.ifelse(
                text.startswith("{") | text.startswith("["), ibis.null("string"), text
            )
    wide = read.select(
        message_id=read.message_id,
        timestamp=read.timestamp,
        **{_ALIAS: is_alias},
        **values,
        **{_PREVIOUS: ibis.ifelse(is_alias, read.previous_id, ibis.null("string"))},
    )
    return wide, slots


def _is_json(column: str, dtype: dt.DataType) -> bool:
    # On PySpark the JSON columns arrive as plain strings; the canonical schema says which are JSON.
    canonical_json = column in EVENTS_SCHEMA and EVENTS_SCHEMA[column].is_json()
    return dtype.is_json() or (dtype.is_string() and canonical_json)
