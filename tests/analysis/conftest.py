"""Tiny literal event tables for analysis tests, on DuckDB or on the shared Spark session.

``make_events(rows)`` takes one dict per event with any of the ``Workspace.events()`` columns,
plus short forms: ``person`` for ``person_id``, ``ts`` for ``timestamp`` (``"2024-01-01 10:00"``
text, a ``datetime``, or a number of seconds after 2024-01-01 00:00 UTC), and ``properties`` /
``context`` / ``traits`` as dicts. ``type`` defaults to ``track``, ``message_id`` to the row
number; every other column is null unless given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa
import pytest

import journeylens as jl

ORIGIN = datetime(2024, 1, 1, tzinfo=UTC)

_TS = pa.timestamp("us", tz="UTC")
EVENTS_COLUMNS = pa.schema(
    [
        ("message_id", pa.string()),
        ("type", pa.string()),
        ("event", pa.string()),
        ("anonymous_id", pa.string()),
        ("user_id", pa.string()),
        ("previous_id", pa.string()),
        ("group_id", pa.string()),
        ("timestamp", _TS),
        ("received_at", _TS),
        ("source", pa.string()),
        ("properties", pa.string()),
        ("context", pa.string()),
        ("traits", pa.string()),
        ("revenue", pa.float64()),
        ("currency", pa.string()),
        ("person_id", pa.string()),
        ("utm_source", pa.string()),
        ("utm_medium", pa.string()),
        ("utm_campaign", pa.string()),
        ("default_channel_group", pa.string()),
        ("touch_channel", pa.string()),
        ("session_index", pa.int64()),
        ("session_id", pa.string()),
        ("stage", pa.string()),
        ("channel", pa.string()),
    ]
)
_JSON = ("properties", "context", "traits")
_SHORT = {"person": "person_id", "ts": "timestamp"}


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return ORIGIN + timedelta(seconds=value)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def events_arrow(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """The rows as an Arrow table with every ``Workspace.events()`` column."""
    columns: dict[str, list[Any]] = {field.name: [] for field in EVENTS_COLUMNS}
    for number, row in enumerate(rows):
        row = {_SHORT.get(k, k): v for k, v in row.items()}
        unknown = set(row) - set(columns)
        assert not unknown, f"unknown event columns {unknown}"
        row.setdefault("message_id", f"m{number:05d}")
        row.setdefault("type", "track")
        for name in ("timestamp", "received_at"):
            if row.get(name) is not None:
                row[name] = _moment(row[name])
        if row.get("received_at") is None:
            row["received_at"] = row.get("timestamp")
        for name in _JSON:
            if isinstance(row.get(name), dict):
                row[name] = json.dumps(row[name])
        for name in columns:
            columns[name].append(row.get(name))
    return pa.table(columns, schema=EVENTS_COLUMNS)


def _as_events(table: ibis.Table) -> ibis.Table:
    return table.mutate(**{name: table[name].cast("json") for name in _JSON})


@pytest.fixture
def make_events() -> Callable[[Sequence[dict[str, Any]]], ibis.Table]:
    """Build an events table on DuckDB (an Ibis memtable)."""
    return lambda rows: _as_events(ibis.memtable(events_arrow(rows)))


@pytest.fixture
def make_spark_events(spark_session: Any) -> Callable[[Sequence[dict[str, Any]]], ibis.Table]:
    """Build the same events table on the shared Spark session (mark the test ``spark``)."""
    con = ibis.pyspark.connect(spark_session)
    counter = iter(range(1_000_000))

    def build(rows: Sequence[dict[str, Any]]) -> ibis.Table:
        view = f"jl_test_events_{next(counter)}"
        spark_session.createDataFrame(events_arrow(rows)).createOrReplaceTempView(view)
        return _as_events(con.table(view))

    return build


def by_true_person(sim: jl.Simulation) -> ibis.Table:
    """The simulation's enriched events with ``person_id`` set to the person who really sent
    each message (the simulator's ``person_key`` as text), so analyses can be checked against
    what was planted without identity resolution's errors."""
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    events = ws.events()
    keys = ibis.memtable(sim.truth.messages.select(["message_id", "person_key"]))
    keys = keys.rename(key_message_id="message_id")
    events = events.join(keys, events.message_id == keys.key_message_id)
    events = events.mutate(person_id=events.person_key.cast("string"))
    return events.drop("person_key", "key_message_id")


@pytest.fixture(scope="session")
def churn_events() -> tuple[list[dict[str, Any]], ibis.Table]:
    """The planted churners and 28 simulated days keyed by the true person (see
    ``by_true_person``), shared by the retention and lifecycle tests."""
    sim = jl.simulate(customers=400, days=28, seed=5)
    return sim.truth.churners.to_pylist(), by_true_person(sim).cache()
