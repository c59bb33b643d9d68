"""The scale-out path: the same pipeline on PySpark gives the same persons, channels, sessions."""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import pytest

import journeylens as jl

pytestmark = pytest.mark.spark

COLUMNS = ["message_id", "person_id", "channel", "session_id", "stage"]


def test_ingest_resolve_and_enrich_on_spark_match_duckdb(spark_session):
    sim = jl.simulate(customers=60, days=14, seed=5)
    clock = lambda: datetime(2026, 3, 1, tzinfo=UTC)  # noqa: E731
    duck = jl.Workspace.open(clock=clock)
    spark = jl.Workspace.open(backend=ibis.pyspark.connect(spark_session), clock=clock)
    reports = [ws.ingest(sim.events) for ws in (duck, spark)]
    assert reports[0].accepted == reports[1].accepted == sim.events.num_rows
    # Nulls stay nulls on Spark (pandas-based uploads would turn them into "NaN").
    stored = spark.table("events")
    assert stored.filter(stored.user_id == "NaN").count().execute() == 0

    stats = [ws.resolve_identities() for ws in (duck, spark)]
    assert stats[0]["persons"] == stats[1]["persons"]
    assert stats[0]["outcomes"] == stats[1]["outcomes"]

    frames = [
        ws.events().select(*COLUMNS).to_pandas().sort_values("message_id").reset_index(drop=True)
        for ws in (duck, spark)
    ]
    left, right = (f.astype(object).where(f.notna(), None) for f in frames)
    assert left.equals(right)
    assert left.person_id.nunique() == stats[0]["persons"]

    persons = [
        ws.persons().to_pandas().sort_values("person_id").reset_index(drop=True)
        for ws in (duck, spark)
    ]
    assert persons[0].person_id.tolist() == persons[1].person_id.tolist()
    assert persons[0].message_count.tolist() == persons[1].message_count.tolist()
