"""Checks and JSON access shared by the enrich steps, written once so every engine agrees."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from journeylens.errors import ValidationError

__all__ = ["JSON_COLUMN", "STRING", "TIMESTAMP", "ColumnKind", "json_text", "require_columns"]


@dataclass(frozen=True)
class ColumnKind:
    """What a step needs a column to be: the words for it and the test on its dtype."""

    words: str
    accepts: Callable[[dt.DataType], bool]


STRING = ColumnKind("a string", lambda dtype: dtype.is_string())
TIMESTAMP = ColumnKind("a timestamp", lambda dtype: dtype.is_timestamp())
#: JSON columns are ``json`` in DuckDB and JSON text (strings) on Spark.
JSON_COLUMN = ColumnKind("JSON or JSON text", lambda dtype: dtype.is_json() or dtype.is_string())


def require_columns(table: ibis.Table, required: Mapping[str, ColumnKind], *, step: str) -> None:
    """Raise a ``ValidationError`` naming every required column ``table`` lacks or mistypes.

    ``required`` maps a column name to one of ``STRING``, ``TIMESTAMP``, ``JSON_COLUMN``.
    """
    schema = table.schema()
    missing = sorted(name for name in required if name not in schema)
    if missing:
        raise ValidationError(
            f"{step} needs columns the table does not have: {', '.join(missing)}",
            received=sorted(schema.names),
            allowed=f"a table with at least {', '.join(sorted(required))}",
            fix="Pass the canonical events table (journeylens.schema.EVENTS_SCHEMA) with "
            "person_id attached by journeylens.identity",
        )
    mistyped = {
        name: str(schema[name]) for name, kind in required.items() if not kind.accepts(schema[name])
    }
    if mistyped:
        wanted = "; ".join(f"{name} must be {required[name].words}" for name in sorted(mistyped))
        raise ValidationError(
            f"{step} got columns of the wrong type: {wanted}",
            received=mistyped,
            fix="Cast the columns to the types of journeylens.schema.EVENTS_SCHEMA",
        )


def json_text(value: ir.JSONValue) -> ir.StringValue:
    """A JSON scalar at a path as plain text; null when absent, JSON null, ``"null"`` or empty.

    DuckDB renders a JSON string as its JSON text (``"google"``, quotes and escapes kept) while
    Spark's ``get_json_object`` gives the bare value (``google``), and Ibis's own unwrap is a
    Python UDF on Spark. So the text is taken as either engine renders it and a quoted JSON
    string is unquoted here, which makes both engines return the same value. Unescaping only
    runs on values with a backslash: string functions cost as much as the JSON read itself.

    Returns:
        The text as sent (not trimmed); numbers and booleans as their JSON text (``1``, ``true``).
    """
    text = value.cast("string")
    inner = text.substr(1, text.length() - 2)
    unescaped = ibis.ifelse(
        inner.contains("\\"),
        inner.replace('\\"', '"').replace("\\/", "/").replace("\\\\", "\\"),
        inner,
    )
    return ibis.ifelse(text.startswith('"'), unescaped, text).nullif("null").nullif("")
