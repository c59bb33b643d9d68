import json

import pyarrow.parquet as pq
import pytest

from journeylens.errors import ValidationError
from journeylens.schema import EVENTS_ARROW_SCHEMA
from journeylens.simulate import simulate, write_parquet


def test_write_parquet_streams_the_same_rows_simulate_returns(tmp_path):
    summary = write_parquet(tmp_path / "events.parquet", 5_300, 7, seed=2, chunk_customers=1)
    assert len(summary.chunk_rows) == 2  # 5,300 customers = two cohorts of at most 5,000
    table = pq.read_table(summary.path)
    assert table.num_rows == summary.rows == sum(summary.chunk_rows)
    assert table.schema.equals(EVENTS_ARROW_SCHEMA)
    assert table.equals(simulate(5_300, 7, seed=2).events)


def test_write_parquet_can_stream_the_truth_too(tmp_path):
    summary = write_parquet(tmp_path / "e.parquet", 300, 10, seed=4, truth_dir=tmp_path / "truth")
    messages = pq.read_table(tmp_path / "truth" / "messages.parquet")
    assert messages.num_rows == summary.rows
    extra = json.loads((tmp_path / "truth" / "truth.json").read_text())
    assert extra["channel_effects"]["Direct"] == 0.0
    assert {row["experiment_id"] for row in extra["experiments"]} == {
        "checkout_redesign",
        "free_shipping_banner",
    }


def test_write_parquet_rejects_a_bad_chunk_size(tmp_path):
    with pytest.raises(ValidationError, match="chunk_customers"):
        write_parquet(tmp_path / "e.parquet", 10, 5, chunk_customers=0)
