"""Reading files and in-memory sources in bounded chunks."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from journeylens.collect.sources import describe_source, iter_chunks, total_rows
from journeylens.errors import SourceError, UnsupportedFormatError

MESSAGES = [{"type": "track", "event": f"e{i}", "userId": "u"} for i in range(5)]


def rows_of(chunks):
    return sum(c.data.num_rows for c in chunks)


def test_a_list_of_messages_is_cut_into_json_chunks_that_know_their_first_row():
    chunks = list(iter_chunks(MESSAGES, chunk_rows=2))
    assert [c.first_row for c in chunks] == [0, 2, 4]
    assert [c.kind for c in chunks] == ["json"] * 3
    assert json.loads(chunks[1].data.column("raw")[0].as_py())["event"] == "e2"


def test_a_segment_batch_envelope_shares_its_context_and_sent_at_with_each_item():
    envelope = {
        "batch": [{"type": "track", "event": "x", "userId": "u", "context": {"ip": "1"}}],
        "context": {"library": {"name": "analytics-python"}},
        "sentAt": "2026-01-01T00:00:00Z",
    }
    [chunk] = list(iter_chunks(envelope, chunk_rows=10))
    item = json.loads(chunk.data.column("raw")[0].as_py())
    assert item["sentAt"] == "2026-01-01T00:00:00Z"
    assert item["context"] == {"library": {"name": "analytics-python"}, "ip": "1"}


@pytest.mark.parametrize("compressed", [False, True])
def test_json_lines_files_stream_in_chunks_gzip_or_not(tmp_path, compressed):
    path = tmp_path / ("events.jsonl.gz" if compressed else "events.jsonl")
    text = "\n".join(json.dumps(m) for m in MESSAGES) + "\n"
    path.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    chunks = list(iter_chunks(path, chunk_rows=2))
    assert rows_of(chunks) == 5
    assert [c.first_row for c in chunks] == [0, 2, 4]


@pytest.mark.parametrize("compressed", [False, True])
def test_csv_files_are_read_as_text_in_chunks(tmp_path, compressed):
    df = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "event": ["a", "b", "c"],
            "timestamp": ["2026-01-01"] * 3,
            "n": ["1", "x", "3"],
        }
    )
    path = tmp_path / ("e.csv.gz" if compressed else "e.csv")
    data = df.to_csv(index=False).encode()
    path.write_bytes(gzip.compress(data) if compressed else data)
    chunks = list(iter_chunks(path, chunk_rows=2))
    assert rows_of(chunks) == 3
    assert all(t == pa.string() for t in chunks[0].data.schema.types)
    assert [c.first_row for c in chunks] == [0, 2]


def test_parquet_files_stream_in_row_batches(tmp_path):
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"user_id": ["u"] * 7, "event": ["a"] * 7}), path)
    chunks = list(iter_chunks(path, chunk_rows=3))
    assert [c.data.num_rows for c in chunks] == [3, 3, 1]
    assert total_rows(path) == 7


def test_dataframes_and_arrow_tables_are_sliced():
    df = pd.DataFrame({"a": range(5)})
    assert rows_of(iter_chunks(df, chunk_rows=2)) == 5
    assert rows_of(iter_chunks(pa.Table.from_pandas(df), chunk_rows=10)) == 5
    assert describe_source(df) == "dataframe"


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(SourceError, match="No such file"):
        list(iter_chunks(tmp_path / "nope.csv", chunk_rows=10))


def test_a_file_of_unknown_format_names_the_formats_it_could_be(tmp_path):
    path = tmp_path / "events.xlsx"
    path.write_text("x")
    with pytest.raises(UnsupportedFormatError, match=r"\.parquet"):
        list(iter_chunks(path, chunk_rows=10))
    with pytest.raises(UnsupportedFormatError, match="csv, parquet, jsonl"):
        list(iter_chunks(path, chunk_rows=10, file_format="xlsx"))


def test_an_unreadable_parquet_file_is_a_source_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_text("not parquet")
    with pytest.raises(SourceError, match="not a readable Parquet"):
        list(iter_chunks(path, chunk_rows=10))


def test_an_object_that_is_no_source_names_what_is_accepted():
    with pytest.raises(SourceError, match="list of Segment messages"):
        list(iter_chunks(42, chunk_rows=10))
