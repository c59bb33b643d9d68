"""Reading a property of an event, of its person or of its group as a text column.

A property is named the way a marketer writes it:

- ``source="event"``: a column of the events table (``channel``, ``utm_source``, ``revenue``,
  ``stage``…); a dotted JSON path into ``properties``, ``context`` or ``traits``
  (``context.page.path``); or, bare, a key of ``properties`` (``product_id``).
- ``source="person"``: a trait of the event's person, as its latest non-null value among all the
  person's messages that carry traits (Segment ``identify`` calls), so "person properties" are
  the profile as it stands now, PostHog's default mode.
- ``source="group"``: a trait of the group the event names (its ``group_id``, or
  ``context.groupId``), as the latest non-null value sent by that group's Segment ``group`` calls.

Person and group traits are read from the table given, so read them before narrowing the table
to a few events. Values come back as text on every engine (JSON numbers as their text), so
filters and breakdowns behave the same on DuckDB and Spark; numeric operators cast the text.
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir

from journeylens.jsontext import with_json_text

__all__ = ["PropertySource", "with_property"]

PropertySource = Literal["event", "person", "group"]

_JSON_COLUMNS = ("properties", "context", "traits")


def with_property(
    events: ibis.Table, column: str, prop: str, source: PropertySource = "event"
) -> ibis.Table:
    """``events`` plus a string ``column`` holding ``prop`` read from ``source``.

    Returns:
        The events, same rows, with ``column``: the value as text, null where the event, its
        person or its group does not have the property.

    >>> ev = ibis.memtable({"person_id": ["p"], "event": ["x"], "properties": ['{"plan": "pro"}']})
    >>> ev = ev.mutate(properties=ev.properties.cast("json"))
    >>> with_property(ev, "plan", "plan").plan.to_list()
    ['pro']
    """
    if source == "event":
        if prop in events.columns and prop not in _JSON_COLUMNS:
            return events.mutate(**{column: events[prop].cast("string")})
        return with_json_text(events, **{column: _json_path(events, prop, default="properties")})
    if source == "person":
        return _join_latest(events, column, prop, carriers=events, key_column="person_id")
    keyed = with_json_text(events, _jl_ctx_group=events.context["groupId"])
    keyed = keyed.mutate(_jl_group=keyed.group_id.coalesce(keyed._jl_ctx_group))
    keyed = keyed.drop("_jl_ctx_group")
    carriers = keyed.filter(keyed.type == "group")
    return _join_latest(keyed, column, prop, carriers=carriers, key_column="_jl_group").drop(
        "_jl_group"
    )


def _json_path(table: ibis.Table, prop: str, *, default: str) -> ir.Value:
    head, _, rest = prop.partition(".")
    if head in _JSON_COLUMNS and rest:
        value, parts = table[head], rest.split(".")
    else:
        value, parts = table[default], prop.split(".") if default != "properties" else [prop]
    for part in parts:
        value = value[part]
    return value


def _join_latest(
    events: ibis.Table, column: str, prop: str, *, carriers: ibis.Table, key_column: str
) -> ibis.Table:
    """Join the latest non-null ``traits`` value per key (ties broken by message id)."""
    carriers = carriers.filter(carriers.traits.notnull() & carriers[key_column].notnull())
    carriers = with_json_text(carriers, _jl_value=_json_path(carriers, prop, default="traits"))
    carriers = carriers.filter(carriers._jl_value.notnull())
    rank = ibis.row_number().over(
        group_by=carriers[key_column],
        order_by=[ibis.desc(carriers.timestamp), ibis.desc(carriers.message_id)],
    )
    ranked = carriers.mutate(_jl_rank=rank)
    latest = ranked.filter(ranked._jl_rank == 0).select(
        _jl_key=ranked[key_column], **{column: ranked._jl_value}
    )
    joined = events.left_join(latest, events[key_column] == latest._jl_key)
    return joined.drop("_jl_key")
