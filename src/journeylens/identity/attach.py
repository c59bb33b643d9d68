"""Give every event its ``person_id``: the person of its best identifier in ``id_map``.

An Ibis expression (two left joins), so it runs on any backend. Only the canonical columns
``user_id`` and ``anonymous_id`` are looked up: they are on every message and are what
Segment-style tools key on; the other identifier types already did their work by linking
these two in ``resolve``. The join keys are normalised in SQL exactly as the Python normaliser
does: ``normalise.TRIM_CHARACTERS`` are cut from both ends with a regular expression (Ibis's
``strip()`` compiles on Spark to a ``TRIM`` whose ``\v`` and ``\f`` Spark reads as the
letters ``v`` and ``f``, which cut real ids such as ``...45d4f``).
"""

from __future__ import annotations

import ibis

from journeylens.errors import ValidationError
from journeylens.identity.graph import ranked_types
from journeylens.schema import ID_MAP_SCHEMA
from journeylens.settings import IdentifierType, IdentitySettings

__all__ = ["FALLBACK_PREFIX", "attach_person", "trim_whitespace"]

#: Prefix of the person_id of a message none of whose ids is in ``id_map`` (all blocked, or
#: seen after the last resolve): ``"m_" + message_id``, one person per such message, so such
#: messages are never merged by accident.
FALLBACK_PREFIX = "m_"
_LOOKED_UP = ("user_id", "anonymous_id")


def attach_person(events: ibis.Table, id_map: ibis.Table, settings: IdentitySettings) -> ibis.Table:
    """``events`` plus a ``person_id`` column.

    Returns:
        Every column of ``events`` (an existing ``person_id`` is replaced) and ``person_id``:
        the person of the message's ``user_id`` if it is in ``id_map``, else of its
        ``anonymous_id`` (the two tried in priority order, user_id first by default), else
        ``"m_" + message_id``.

    Example:
        >>> import ibis
        >>> from journeylens.schema import EVENTS_SCHEMA, ID_MAP_SCHEMA
        >>> from journeylens.settings import IdentitySettings
        >>> ev = attach_person(ibis.table(EVENTS_SCHEMA, name="events"),
        ...                    ibis.table(ID_MAP_SCHEMA, name="id_map"), IdentitySettings())
        >>> ev.columns[-1]
        'person_id'
    """
    missing = [c for c in ID_MAP_SCHEMA.names if c not in id_map.columns]
    missing += [c for c in (*_LOOKED_UP, "message_id") if c not in events.columns]
    if missing:
        raise ValidationError(
            f"attach_person is missing columns {missing}",
            received={"events": list(events.columns), "id_map": list(id_map.columns)},
            fix="Pass the canonical events table and the id_map from resolve",
        )
    looked_up = [t for t in ranked_types(settings) if t.name in _LOOKED_UP]
    keep = [c for c in events.columns if c != "person_id"]
    joined = events.mutate(
        **{f"_jl_key_{t.name}": _sql_normalised(events[t.name], t) for t in looked_up}
    )
    persons = []
    for t in looked_up:
        mapped = id_map.filter(id_map.id_type == t.name).select(
            **{f"_jl_value_{t.name}": id_map.id_value, f"_jl_person_{t.name}": id_map.person_id}
        )
        joined = joined.left_join(
            mapped, joined[f"_jl_key_{t.name}"] == mapped[f"_jl_value_{t.name}"]
        )
        persons.append(joined[f"_jl_person_{t.name}"])
    fallback = ibis.literal(FALLBACK_PREFIX) + joined.message_id
    return joined.select(*keep, person_id=ibis.coalesce(*persons, fallback))


def _sql_normalised(column: ibis.Value, id_type: IdentifierType) -> ibis.Value:
    if id_type.normaliser == "none":
        return column
    if id_type.normaliser == "trim":
        return trim_whitespace(column)
    if id_type.normaliser in ("lower_trim", "email"):
        return trim_whitespace(column).lower()
    raise ValidationError(
        f"The {id_type.name} normaliser cannot be applied in SQL",
        received=id_type.normaliser,
        allowed="none, trim, lower_trim, email",
        fix=f"Give {id_type.name} one of those normalisers",
    )


# The same characters as normalise.TRIM_CHARACTERS, written as regex escapes both engines read.
_EDGES = r"^[ \t\n\r\x0B\x0C]+|[ \t\n\r\x0B\x0C]+$"


def trim_whitespace(column: ibis.StringValue) -> ibis.StringValue:
    """``column`` without ``normalise.TRIM_CHARACTERS`` at either end, on every engine."""
    return column.re_replace(_EDGES, "")
