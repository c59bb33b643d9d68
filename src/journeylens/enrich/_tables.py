"""Column checks shared by the enrich steps."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt

from journeylens.errors import ValidationError

__all__ = ["JSON_COLUMN", "STRING", "TIMESTAMP", "ColumnKind", "require_columns"]


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
