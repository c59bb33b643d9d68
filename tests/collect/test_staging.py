"""Validation and canonicalisation of single chunks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest

from journeylens.collect.sources import iter_chunks
from journeylens.collect.staging import Stager
from journeylens.schema import EVENTS_ARROW_SCHEMA
from journeylens.settings import IngestSettings

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def stage(source, mapping=None, settings=None):
    stager = Stager(
        settings or IngestSettings(), source_name="test", received_at=NOW, mapping=mapping
    )
    try:
        [chunk] = list(iter_chunks(source, chunk_rows=10_000))
        return stager.stage(chunk)
    finally:
        stager.close()


def track(**extra):
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "timestamp": "2026-01-01T10:00:00Z",
    } | extra


BAD_ROWS = [
    ("{not json", None, "BAD_JSON"),
    ("[1, 2]", None, "BAD_JSON"),
    (track(type="purchase"), "type", "UNKNOWN_TYPE"),
    ({"event": "x", "userId": "u"}, "type", "UNKNOWN_TYPE"),
    (track(userId={"id": 1}), "userId", "WRONG_TYPE"),
    (track(event=["a"]), "event", "WRONG_TYPE"),
    (track(properties="text"), "properties", "WRONG_TYPE"),
    (track(context=[1]), "context", "WRONG_TYPE"),
    (track(properties={"revenue": "a lot"}), "properties.revenue", "WRONG_TYPE"),
    (track(timestamp=1767261600), "timestamp", "WRONG_TYPE"),
    ({"type": "track", "event": "x", "timestamp": "2026-01-01T00:00:00Z"}, "userId", "MISSING_ID"),
    (track(userId="  "), "userId", "MISSING_ID"),
    ({"type": "track", "userId": "u"}, "event", "MISSING_FIELD"),
    ({"type": "alias", "userId": "u"}, "previousId", "MISSING_FIELD"),
    ({"type": "alias", "anonymousId": "a", "previousId": "p"}, "userId", "MISSING_FIELD"),
    ({"type": "group", "userId": "u"}, "groupId", "MISSING_FIELD"),
    (track(timestamp="yesterday"), "timestamp", "BAD_TIMESTAMP"),
    (track(sentAt="soon"), "sentAt", "BAD_TIMESTAMP"),
    (track(receivedAt="2026-13-45"), "receivedAt", "BAD_TIMESTAMP"),
    (track(timestamp="2026-03-01T00:00:00Z"), "timestamp", "FUTURE_TIMESTAMP"),
    (track(messageId="m" * 101), "messageId", "MESSAGE_ID_TOO_LONG"),
    (track(properties={"blob": "x" * 40_000}), None, "OVERSIZE"),
]


@pytest.mark.parametrize(("row", "field", "code"), BAD_ROWS)
def test_each_kind_of_malformed_message_is_rejected_with_its_reason(row, field, code):
    good = track(messageId="good-1")
    staged = stage([good, row, good | {"messageId": "good-2"}])
    assert staged.accepted.column("message_id").to_pylist() == ["good-1", "good-2"]
    [rejected] = staged.rejected.to_pylist()
    assert (rejected["row"], rejected["field"], rejected["code"]) == (1, field, code)
    raw = row if isinstance(row, str) else json.dumps(row)
    assert rejected["raw"] == raw


def test_accepted_rows_have_the_canonical_schema_and_utc_timestamps():
    staged = stage([track(timestamp="2026-01-01T12:00:00+02:00", properties={"revenue": 12.5})])
    assert staged.accepted.schema == EVENTS_ARROW_SCHEMA
    row = staged.accepted.to_pylist()[0]
    assert row["timestamp"] == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert row["received_at"] == NOW
    assert (row["revenue"], row["currency"]) == (12.5, "USD")
    assert json.loads(row["properties"]) == {"revenue": 12.5}


def test_sent_at_corrects_the_device_clock_as_segment_does():
    # The device clock is 1 hour behind: it stamped 09:00 and sent at 09:00:05, while the
    # server received the message at 10:00:05. The event really happened at 10:00:00.
    message = track(
        timestamp="2026-01-01T09:00:00Z",
        sentAt="2026-01-01T09:00:05Z",
        receivedAt="2026-01-01T10:00:05Z",
    )
    row = stage([message]).accepted.to_pylist()[0]
    assert row["timestamp"] == datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC)
    assert row["received_at"] == datetime(2026, 1, 1, 10, 0, 5, tzinfo=UTC)


def test_a_message_without_a_timestamp_takes_the_received_time():
    row = stage([{"type": "identify", "userId": "u"}]).accepted.to_pylist()[0]
    assert row["timestamp"] == NOW


def test_page_and_screen_names_become_the_event_name():
    rows = stage(
        [
            {"type": "page", "name": "Home", "anonymousId": "a"},
            {"type": "screen", "properties": {"name": "Cart"}, "anonymousId": "a"},
        ]
    ).accepted.to_pylist()
    assert [r["event"] for r in rows] == ["Home", "Cart"]


def test_only_track_page_and_screen_messages_keep_an_event_name():
    rows = stage(
        [
            {"type": "identify", "event": "Product Viewed", "userId": "u1"},
            {"type": "group", "event": "Product Viewed", "userId": "u1", "groupId": "g"},
            track(event="Product Viewed"),
        ]
    ).accepted.to_pylist()
    assert [r["event"] for r in rows] == [None, None, "Product Viewed"]


def test_snake_case_fields_are_read_like_camel_case():
    row = stage(
        [{"type": "track", "event": "x", "user_id": "u", "anonymous_id": "a", "message_id": "m"}]
    ).accepted.to_pylist()[0]
    assert (row["user_id"], row["anonymous_id"], row["message_id"]) == ("u", "a", "m")


def test_rows_without_message_id_get_the_same_id_from_the_same_content():
    first = stage([track()]).accepted.column("message_id").to_pylist()
    second = stage([track()]).accepted.column("message_id").to_pylist()
    other = stage([track(event="Other")]).accepted.column("message_id").to_pylist()
    assert first == second
    assert first != other
    assert first[0].startswith("jl-")


def test_repeated_message_ids_in_one_chunk_keep_the_first():
    staged = stage([track(messageId="m", event="first"), track(messageId="m", event="second")])
    assert staged.accepted.column("event").to_pylist() == ["first"]
    assert staged.repeats == 1


def test_a_table_is_mapped_and_extra_columns_become_properties():
    df = pd.DataFrame(
        {
            "customer": ["c1", "c2"],
            "ts": ["2026-01-01 10:00:00", "2026-01-01T11:00:00Z"],
            "what": ["Product Viewed", "Order Completed"],
            "utm_source": ["google", None],
            "price": [9.5, 20.0],
        }
    )
    staged = stage(
        df,
        mapping={
            "user_id": "customer",
            "timestamp": "ts",
            "event": "what",
            "context.campaign.source": "utm_source",
        },
    )
    rows = staged.accepted.to_pylist()
    assert [r["user_id"] for r in rows] == ["c1", "c2"]
    assert rows[0]["timestamp"] == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert json.loads(rows[0]["context"]) == {"campaign": {"source": "google"}}
    assert json.loads(rows[1]["properties"]) == {"price": 20.0}
    assert [r["type"] for r in rows] == ["track", "track"]


def test_a_bad_table_row_is_quarantined_with_the_row_as_json():
    table = pa.table(
        {
            "user_id": ["u", None],
            "event": ["a", "b"],
            "timestamp": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"],
        }
    )
    staged = stage(table)
    [bad] = staged.rejected.to_pylist()
    assert (bad["row"], bad["code"]) == (1, "MISSING_ID")
    assert json.loads(bad["raw"]) == {
        "user_id": None,
        "event": "b",
        "timestamp": "2026-01-01T00:00:00Z",
    }


def test_a_json_column_that_is_not_an_object_is_a_wrong_type():
    table = pa.table(
        {
            "user_id": ["u", "u"],
            "event": ["a", "b"],
            "timestamp": ["2026-01-01T00:00:00Z"] * 2,
            "properties": ['{"x": 1}', "not json"],
        }
    )
    staged = stage(table)
    assert [r["code"] for r in staged.rejected.to_pylist()] == ["WRONG_TYPE"]
    assert staged.rejected.column("field").to_pylist() == ["properties"]


def test_the_future_limit_is_a_setting():
    loose = IngestSettings(max_future="90d")
    staged = stage([track(timestamp="2026-03-01T00:00:00Z")], settings=loose)
    assert staged.accepted.num_rows == 1
