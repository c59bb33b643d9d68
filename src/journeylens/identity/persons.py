"""One row per person: user id, latest traits, first and last seen, counts.

Counts and times come from one aggregate query the engine runs. Traits: every key of an
``identify`` message's ``traits`` and of any message's ``context.traits`` is a candidate; per
person and key the newest value wins (ties: ``identify`` traits over ``context.traits``, then
the larger ``message_id``), as Segment's profiles do. Reading a JSON object's keys has no
portable Ibis form (the JSON → map cast does not compile on PySpark), so the engine hands over
only the trait documents and they are merged here, the same way on every backend. A person's
messages repeat the same ``context.traits`` over and over; the engine sends each distinct
document once per person, at its newest occurrence. Dropping older copies changes nothing:
every key such a copy sets is set again, at least as late, by the newest one.
"""

from __future__ import annotations

import json
from typing import Any

import ibis
import pyarrow as pa

from journeylens.errors import ValidationError
from journeylens.identity.attach import trim_whitespace
from journeylens.schema import ID_MAP_SCHEMA, PERSONS_SCHEMA

__all__ = ["build_persons", "latest_traits"]

_NEEDED = ("person_id", "message_id", "type", "timestamp", "user_id", "traits", "context")


def build_persons(events_with_person: ibis.Table, id_map: ibis.Table) -> pa.Table:
    """The persons table (``schema.PERSONS_SCHEMA``).

    Args:
        events_with_person: ``attach_person(events, id_map, settings)``.
        id_map: ``Resolution.id_map``.

    Returns:
        An Arrow table in ``PERSONS_SCHEMA`` layout, one row per ``person_id`` seen on an
        event: ``user_id`` (the trimmed
        ``user_id`` of the person's newest message whose user id is one of the person's in
        ``id_map``; null if none), ``traits`` (JSON object, newest value per key; ``{}`` if
        none), ``first_seen`` / ``last_seen`` (min / max event timestamp),
        ``identifier_count`` (rows of ``id_map`` for the person; 0 for a fallback person),
        ``message_count`` (events of the person).

    Example:
        >>> import ibis
        >>> from journeylens.schema import EVENTS_SCHEMA, ID_MAP_SCHEMA
        >>> ev = ibis.table({**EVENTS_SCHEMA, "person_id": "string"}, name="ev")
        >>> con = ibis.duckdb.connect()
        >>> ev = con.create_table("ev", schema={**EVENTS_SCHEMA, "person_id": "string"})
        >>> id_map = con.create_table("id_map", schema=ID_MAP_SCHEMA)
        >>> build_persons(ev, id_map).column_names[:3]
        ['person_id', 'user_id', 'traits']
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
    out = base.left_join(counts, "person_id").left_join(_user_ids(ev, id_map), "person_id")
    table = out.select(
        "person_id",
        "user_id",
        first_seen=out.first_seen,
        last_seen=out.last_seen,
        identifier_count=ibis.coalesce(out.identifier_count, 0).cast("int64"),
        message_count=out.message_count.cast("int64"),
    ).to_pyarrow()
    traits = latest_traits(_trait_documents(ev).to_pyarrow())
    texts = [traits.get(p, "{}") for p in table.column("person_id").to_pylist()]
    table = table.add_column(2, "traits", pa.array(texts, pa.string()))
    return table.select(list(PERSONS_SCHEMA.names)).cast(_ARROW)


_ARROW = pa.schema(
    [
        pa.field(name, pa.string() if dtype.is_json() else dtype.to_pyarrow())
        for name, dtype in PERSONS_SCHEMA.items()
    ]
)


def _user_ids(ev: ibis.Table, id_map: ibis.Table) -> ibis.Table:
    """Per person, the newest user id of theirs that a message carried."""
    mine = id_map.filter(id_map.id_type == "user_id").select(
        _jl_person=id_map.person_id, user_id=id_map.id_value
    )
    carried = ev.filter(ev.user_id.notnull()).select(
        "person_id", "timestamp", user_id=trim_whitespace(ev.user_id)
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


def _trait_documents(ev: ibis.Table) -> ibis.Table:
    """Every distinct trait document of every person as JSON text, at its newest occurrence (the
    last in ``latest_traits``' order): identify ``traits`` (source 0) and ``context.traits``
    (source 1), with person, time and message."""
    identify = ev.filter(ev.type == "identify").select(
        "person_id", "timestamp", "message_id", source=ibis.literal(0), doc=ev.traits.cast("string")
    )
    context = ev.select(
        "person_id",
        "timestamp",
        "message_id",
        source=ibis.literal(1),
        doc=ev.context.cast("json")["traits"].cast("string"),
    )
    docs = ibis.union(identify, context, distinct=False)
    docs = docs.filter(docs.doc.notnull() & docs.doc.startswith("{"))
    # latest_traits applies documents by (timestamp, nulls last; source descending; message_id)
    # ascending: the newest occurrence is the first of the reverse order.
    newest = ibis.window(
        group_by=["person_id", "doc"],
        order_by=[
            ibis.desc("timestamp", nulls_first=True),
            ibis.asc("source"),
            ibis.desc("message_id"),
        ],
    )
    docs = docs.mutate(_jl_newest=ibis.row_number().over(newest))
    return docs.filter(docs._jl_newest == 0).drop("_jl_newest")


def latest_traits(documents: pa.Table) -> dict[str, str]:
    """Merge trait documents per person: the newest value of each key wins.

    Args:
        documents: ``person_id``, ``timestamp``, ``message_id``, ``source`` (0 identify traits,
            1 context.traits) and ``doc`` (JSON object text).

    Returns:
        ``{person_id: traits}``, traits as JSON object text with sorted keys. On equal
        timestamps identify traits win over context traits, then the larger ``message_id``.

    >>> docs = pa.table({"person_id": ["p", "p"], "timestamp": [1, 2], "message_id": ["a", "b"],
    ...                  "source": [0, 1], "doc": ['{"plan": "free", "x": 1}', '{"plan": "pro"}']})
    >>> latest_traits(docs)
    {'p': '{"plan": "pro", "x": 1}'}
    """
    if documents.num_rows == 0:
        return {}
    # Apply oldest first so newer values overwrite: ascending time, context before identify,
    # ascending message id.
    order = documents.sort_by(
        [
            ("person_id", "ascending"),
            ("timestamp", "ascending"),
            ("source", "descending"),
            ("message_id", "ascending"),
        ]
    )
    merged: dict[str, dict[str, Any]] = {}
    for person, doc in zip(
        order.column("person_id").to_pylist(), order.column("doc").to_pylist(), strict=True
    ):
        try:
            values = json.loads(doc)
        except ValueError:
            continue
        if isinstance(values, dict):
            merged.setdefault(person, {}).update(values)
    return {p: json.dumps(v, sort_keys=True, ensure_ascii=False) for p, v in merged.items()}
