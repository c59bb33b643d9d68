"""The collector's verdict on a message is ingest's verdict: same code, same field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.collect.messages import check_message, prepare_message
from journeylens.collect.sources import Chunk
from journeylens.collect.staging import Stager
from journeylens.settings import IngestSettings

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RECEIVED = "2024-05-01T12:00:00Z"
OK = {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m1"}


def staged_verdicts(messages: list[object]) -> list[tuple[str, str | None] | None]:
    """What ingest's staging decides for each message: (code, field) or None when accepted."""
    texts = [json.dumps(m, ensure_ascii=False, separators=(",", ":")) for m in messages]
    stager = Stager(IngestSettings(), source_name="test", received_at=NOW)
    try:
        staged = stager.stage(Chunk("json", pa.table({"raw": pa.array(texts, pa.string())}), 0))
    finally:
        stager.close()
    verdicts: list[tuple[str, str | None] | None] = [None] * len(messages)
    for row in staged.rejected.to_pylist():
        verdicts[row["row"]] = (row["code"], row["field"])
    return verdicts


def collector_verdicts(messages: list[object]) -> list[tuple[str, str | None] | None]:
    out: list[tuple[str, str | None] | None] = []
    for m in messages:
        n_bytes = len(json.dumps(m, ensure_ascii=False, separators=(",", ":")).encode())
        problem = check_message(m, n_bytes, IngestSettings())
        out.append(None if problem is None else (problem.code, problem.field))
    return out


CASES: list[object] = [
    OK,
    "not an object",
    [1, 2],
    OK | {"properties": {"blob": "x" * 40_000}},
    OK | {"type": "purchase"},
    OK | {"type": " TRACK "},
    OK | {"type": 5},
    OK | {"type": {"a": 1}},
    OK | {"userId": {"id": 1}},
    OK | {"messageId": ["x"]},
    OK | {"event": {"name": "x"}},
    OK | {"timestamp": 1714564800},
    OK | {"sentAt": True},
    OK | {"properties": "text"},
    OK | {"context": [1]},
    OK | {"traits": 3},
    OK | {"properties": {"revenue": "12.50"}},
    OK | {"properties": {"revenue": 12}},
    OK | {"properties": {"revenue": "abc"}},
    OK | {"properties": {"revenue": True}},
    OK | {"properties": {"revenue": " 1e3 "}},
    OK | {"properties": {"revenue": {"v": 1}}},
    {"type": "track", "event": "x"},
    {"type": "track", "event": "x", "userId": "   "},
    {"type": "track", "event": "x", "userId": None, "anonymous_id": "a"},
    {"type": "track", "event": "x", "userId": 42},
    {"type": "track", "event": "x", "user_id": "u"},
    {"type": "track", "userId": "u"},
    {"type": "track", "userId": "u", "event": "  "},
    {"type": "page", "userId": "u"},
    {"type": "screen", "anonymousId": "a", "name": "Home"},
    {"type": "identify", "userId": "u", "traits": {"email": "a@b.c"}},
    {"type": "alias", "userId": "u"},
    {"type": "alias", "previousId": "p", "anonymousId": "a"},
    {"type": "alias", "previousId": "p", "userId": "u"},
    {"type": "group", "userId": "u"},
    {"type": "group", "userId": "u", "groupId": "g"},
    {"type": "group", "userId": "u", "group_id": "g"},
    OK | {"timestamp": "2024-05-01T10:00:00Z"},
    OK | {"timestamp": "2024-05-01T10:00:00.123Z"},
    OK | {"timestamp": "2024-05-01T10:00:00.123456+00:00"},
    OK | {"timestamp": "2024-05-01 10:00:00"},
    OK | {"timestamp": "2024-05-01"},
    OK | {"timestamp": "2024-05-01T10:00:00-05:30"},
    OK | {"timestamp": "2024-05-01T10:00:00+0200"},
    OK | {"timestamp": "2024-05-01T10:00:00+02"},
    OK | {"timestamp": "yesterday"},
    OK | {"timestamp": ""},
    OK | {"timestamp": "2024-13-01T00:00:00Z"},
    OK | {"timestamp": "2024-02-30"},
    OK | {"originalTimestamp": "soon"},
    OK | {"sentAt": "later"},
    OK | {"receivedAt": "never"},
    OK | {"timestamp": "2030-01-01T00:00:00Z"},
    OK | {"timestamp": "2024-05-02T11:59:00Z"},
    OK | {"originalTimestamp": "2030-01-01T00:00:00Z", "sentAt": "2030-01-01T00:00:05Z"},
    OK | {"originalTimestamp": "2024-05-01T11:00:00Z", "sentAt": "2023-01-01T00:00:00Z"},
    OK | {"timestamp": None, "originalTimestamp": "2024-05-01T11:00:00Z"},
    OK | {"messageId": "x" * 101},
    OK | {"messageId": "x" * 100},
    OK | {"messageId": None, "message_id": "m2"},
]


def test_the_collector_rejects_exactly_what_ingest_quarantines_for_the_same_reason():
    messages = [
        m if not isinstance(m, dict) else m | {"receivedAt": m.get("receivedAt", NOW.isoformat())}
        for m in CASES
    ]
    assert collector_verdicts(messages) == staged_verdicts(messages)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2)
    ),
    max_leaves=4,
)
field_values = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            " ",
            "u1",
            "track",
            "page",
            "alias",
            "group",
            "2024-05-01T10:00:00Z",
            "2024-05-01",
            "2031-01-01T00:00:00Z",
            "not a time",
            "12.5",
            "abc",
        ]
    ),
    json_values,
)
FIELDS = [
    "type",
    "event",
    "userId",
    "anonymousId",
    "user_id",
    "previousId",
    "groupId",
    "messageId",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "properties",
    "context",
    "traits",
    "name",
]


@settings(max_examples=40, deadline=None)
@given(
    messages=st.lists(
        st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=8).map(
            lambda m: m | {"receivedAt": NOW.isoformat()}
        )
        | st.fixed_dictionaries(
            {
                "type": st.just("track"),
                "event": st.just("e"),
                "userId": st.just("u"),
                "properties": st.dictionaries(st.just("revenue"), field_values, max_size=1),
            }
        ).map(lambda m: m | {"receivedAt": NOW.isoformat()}),
        min_size=1,
        max_size=30,
    )
)
def test_any_message_gets_the_same_verdict_from_the_collector_and_from_ingest(messages):
    assert collector_verdicts(messages) == staged_verdicts(messages)


def test_preparing_a_batch_item_merges_the_envelope_and_fills_server_fields():
    envelope = {
        "writeKey": "secret",
        "sentAt": "2024-05-01T12:00:00Z",
        "context": {"library": {"name": "analytics.js"}, "locale": "en"},
        "integrations": {"All": True},
    }
    item = {
        "type": "track",
        "event": "x",
        "anonymousId": "a",
        "context": {"locale": "de"},
        "writeKey": "secret",
    }
    message = prepare_message(
        item,
        envelope=envelope,
        message_type=None,
        received_at=RECEIVED,
        ip="10.0.0.1",
    )
    assert message["context"] == {
        "library": {"name": "analytics.js"},
        "locale": "de",
        "ip": "10.0.0.1",
    }
    assert message["sentAt"] == "2024-05-01T12:00:00Z"
    assert message["integrations"] == {"All": True}
    assert message["receivedAt"] == "2024-05-01T12:00:00Z"
    assert message["messageId"].startswith("jl-")
    assert "writeKey" not in message
    assert item["writeKey"] == "secret"  # the request's own object is left alone


def test_preparing_keeps_a_given_message_id_and_ip_and_takes_the_type_from_the_route():
    item = {"type": "identify", "messageId": "m-7", "userId": "u", "context": {"ip": "1.2.3.4"}}
    message = prepare_message(
        item, envelope=None, message_type="track", received_at=RECEIVED, ip="10.0.0.1"
    )
    assert message["type"] == "track"
    assert message["messageId"] == "m-7"
    assert message["context"]["ip"] == "1.2.3.4"


@pytest.mark.parametrize("item", ["text", 3, None, [1]])
def test_preparing_leaves_a_non_object_as_it_is_for_rejection(item):
    assert (
        prepare_message(item, envelope=None, message_type=None, received_at=RECEIVED, ip=None)
        == item
    )


def test_a_rejected_message_explains_itself():
    problem = check_message({"type": "track", "event": "x"}, 30, IngestSettings())
    assert problem is not None
    assert problem.code == "MISSING_ID"
    assert "userId" in problem.message
    assert "anonymousId" in problem.message
