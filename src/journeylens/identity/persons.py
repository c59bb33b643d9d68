"""One row per person: user id, latest traits, first and last seen, counts.

An Ibis expression. Traits: every key of an ``identify`` message's ``traits`` and of any
message's ``context.traits`` is a candidate; per person and key the newest value wins (ties:
``identify`` traits over ``context.traits``, then the larger ``message_id``), as Segment's
profiles do. Reading a JSON object's keys needs a JSON → map cast that Ibis 12 compiles on
DuckDB but not on PySpark: **the traits part is DuckDB-only**; everything else is portable.
"""

from __future__ import annotations

import ibis

from journeylens.errors import ValidationError
from journeylens.schema import ID_MAP_SCHEMA

__all__ = ["build_persons"]

_NEEDED = ("person_id", "message_id", "type", "timestamp", "user_id", "traits", "context")


def build_persons(events_with_person: ibis.Table, id_map: ibis.Table) -> ibis.Table:
    """The persons table (``schema.PERSONS_SCHEMA``).

    Args:
        events_with_person: ``attach_person(events, id_map, settings)``.
        id_map: ``Resolution.id_map``.

    Returns:
        An Ibis table, one row per ``person_id`` seen on an event: ``user_id`` (the trimmed
        ``user_id`` of the person's newest message whose user id is one of the person's in
        ``id_map``; null if none), ``traits`` (JSON object, newest value per key; ``{}`` if
        none), ``first_seen`` / ``last_seen`` (min / max event timestamp),
        ``identifier_count`` (rows of ``id_map`` for the person; 0 for a fallback person),
        ``message_count`` (events of the person).

    Example:
        >>> import ibis
        >>> from journeylens.schema import EVENTS_SCHEMA, ID_MAP_SCHEMA
        >>> ev = ibis.table({**EVENTS_SCHEMA, "person_id": "string"}, name="ev")
        >>> build_persons(ev, ibis.table(ID_MAP_SCHEMA, name="id_map")).columns[:3]
        ('person_id', 'user_id', 'traits')
    """
    missing = [c for c in _NEEDED if c not in events_with_person.columns]
    missing += [c for c in ID_MAP_SCHEMA.names if c not in id_map.columns]
    if missing:
        raise ValidationError(
            f"build_persons is missing columns {missing}",
            fix="Pass attach_person(events, id_map, settings) and the id_map from resolve",
        )
    ev = events_with_person
    base = ev.group_by("person_id").aggregate(
        first_seen=ev.timestamp.min(), last_seen=ev.timestamp.max(), message_count=ev.count()
    )
    counts = id_map.group_by("person_id").aggregate(identifier_count=id_map.count())
    users = _user_ids(ev, id_map)
    traits = _traits(ev)
    out = (
        base.left_join(counts, "person_id")
        .left_join(users, "person_id")
        .left_join(traits, "person_id")
    )
    return out.select(
        "person_id",
        "user_id",
        traits=ibis.coalesce(out.traits_text, ibis.literal("{}")).cast("json"),
        first_seen=out.first_seen,
        last_seen=out.last_seen,
        identifier_count=ibis.coalesce(out.identifier_count, 0).cast("int64"),
        message_count=out.message_count.cast("int64"),
    )


def _user_ids(ev: ibis.Table, id_map: ibis.Table) -> ibis.Table:
    """Per person, the newest user id of theirs that a message carried."""
    mine = id_map.filter(id_map.id_type == "user_id").select(
        _jl_person=id_map.person_id, user_id=id_map.id_value
    )
    carried = ev.filter(ev.user_id.notnull()).select(
        "person_id", "timestamp", user_id=ev.user_id.strip()
    )
    carried = carried.inner_join(
        mine, [carried.person_id == mine._jl_person, carried.user_id == mine.user_id]
    ).select("person_id", "timestamp", "user_id")
    newest = ibis.row_number().over(
        group_by="person_id", order_by=[ibis.desc("timestamp"), ibis.desc("user_id")]
    )
    return (
        carried.mutate(_jl_rank=newest).filter(ibis._._jl_rank == 0).select("person_id", "user_id")
    )


def _traits(ev: ibis.Table) -> ibis.Table:
    """Per person, the newest value of every trait key, as JSON object text ``traits_text``."""
    identify = ev.filter(ev.type == "identify").select(
        "person_id", "timestamp", "message_id", source=ibis.literal(0), doc=ev.traits.cast("json")
    )
    context = ev.select(
        "person_id",
        "timestamp",
        "message_id",
        source=ibis.literal(1),
        doc=ev.context.cast("json")["traits"],
    )
    docs = ibis.union(identify, context, distinct=False)
    docs = docs.mutate(pairs=docs.doc.map).filter(ibis._.pairs.notnull())
    keyed = docs.select(
        "person_id", "timestamp", "message_id", "source", "pairs", key=docs.pairs.keys().unnest()
    )
    keyed = keyed.mutate(value=keyed.pairs[keyed.key].cast("string"))
    newest = ibis.row_number().over(
        group_by=["person_id", "key"],
        order_by=[ibis.desc("timestamp"), "source", ibis.desc("message_id")],
    )
    latest = keyed.mutate(_jl_rank=newest).filter(ibis._._jl_rank == 0)
    # JSON-escape the key (backslash first, then the quote); the value is JSON text already.
    quoted = latest.key.replace("\\", "\\\\").replace('"', '\\"')
    member = ibis.literal('"') + quoted + ibis.literal('":') + ibis.coalesce(latest.value, "null")
    return latest.group_by("person_id").aggregate(
        traits_text=ibis.literal("{") + member.group_concat(",", order_by=latest.key) + "}"
    )
