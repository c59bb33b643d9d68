"""Turning stored rows into JSON values, and the paging parameters the routes share."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import pyarrow as pa
from fastapi import Query

__all__ = ["Limit", "Offset", "json_rows", "json_value"]

#: Rows per page.
Limit = Annotated[int, Query(ge=1, le=1000, description="Rows per page (1–1000)")]
#: Rows to skip.
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")]


def json_value(value: Any) -> Any:
    """A stored value as a JSON value: datetimes as ISO-8601 text, NaN and infinities as None.

    >>> from datetime import UTC, datetime
    >>> json_value(datetime(2024, 1, 1, tzinfo=UTC)), json_value(float("nan"))
    ('2024-01-01T00:00:00+00:00', None)
    """
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Every row of an Arrow table as a dict of JSON values (see ``json_value``)."""
    return [{k: json_value(v) for k, v in row.items()} for row in table.to_pylist()]
