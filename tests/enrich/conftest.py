"""Fixtures for the enrich tests: a DuckDB backend, one Spark session, and an events builder."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pandas as pd
import pytest

#: Where built events start; each row is a minute after the previous unless it says otherwise.
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

_JSON = ("context", "properties", "traits")
_COLUMNS: dict[str, str] = {
    "message_id": "string",
    "type": "string",
    "event": "string",
    "anonymous_id": "string",
    "user_id": "string",
    "previous_id": "string",
    "group_id": "string",
    "timestamp": "timestamp('UTC')",
    "received_at": "timestamp('UTC')",
    "source": "string",
    "properties": "string",
    "context": "string",
    "traits": "string",
    "revenue": "float64",
    "currency": "string",
    "person_id": "string",
}

EventsBuilder = Callable[[Sequence[Mapping[str, Any]]], ibis.Table]


def event_records(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Canonical events with ``person_id`` from short dicts: unspecified columns get defaults.

    JSON columns may be given as dicts; they are stored as JSON text, as Spark holds them.
    ``timestamp`` may be a datetime or a number of minutes after ``T0``.
    """
    records = []
    for i, row in enumerate(rows):
        rec: dict[str, Any] = {
            "message_id": f"m{i:04d}",
            "type": "track",
            "event": None,
            "person_id": "p1",
            "timestamp": i,
            "source": "test",
        }
        rec.update(row)
        for col in _JSON:
            value = rec.get(col, {} if col != "traits" else None)
            rec[col] = value if value is None or isinstance(value, str) else json.dumps(value)
        ts = rec["timestamp"]
        rec["timestamp"] = T0 + timedelta(minutes=ts) if isinstance(ts, int | float) else ts
        rec.setdefault("received_at", rec["timestamp"])
        records.append({col: rec.get(col) for col in _COLUMNS})
    return records


def build_events(rows: Sequence[Mapping[str, Any]]) -> ibis.Table:
    """``event_records`` as an in-memory Ibis table (runs on DuckDB)."""
    frame = pd.DataFrame(event_records(rows), columns=list(_COLUMNS))
    return ibis.memtable(frame, schema=ibis.schema(_COLUMNS))


@pytest.fixture(scope="session")
def make_events() -> EventsBuilder:
    """``build_events``, for tests (test modules do not import conftest)."""
    return build_events


@pytest.fixture(scope="session")
def duck() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


@pytest.fixture(scope="session")
def spark(spark_session: Any) -> ibis.BaseBackend:
    return ibis.pyspark.connect(spark_session)


@pytest.fixture(scope="session")
def spark_events(spark_session: Any, spark: ibis.BaseBackend) -> EventsBuilder:
    """``build_events`` for Spark, through Spark's own DataFrame: Ibis's pandas memtables turn
    missing strings into "NaN" on Spark with pandas 3."""
    from pyspark.sql import types as spark_types

    kinds = {"string": spark_types.StringType(), "float64": spark_types.DoubleType()}
    schema = spark_types.StructType(
        [
            spark_types.StructField(name, kinds.get(kind, spark_types.TimestampType()))
            for name, kind in _COLUMNS.items()
        ]
    )
    count = itertools.count()

    def build(rows: Sequence[Mapping[str, Any]]) -> ibis.Table:
        records = [tuple(rec.values()) for rec in event_records(rows)]
        name = f"enrich_events_{next(count)}"
        spark_session.createDataFrame(records, schema).createOrReplaceTempView(name)
        return spark.table(name)

    return build
