"""The collector speaks Segment's HTTP API: real SDK payloads, keys, limits, gzip, CORS."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from journeylens.api.app import create_app
from journeylens.api.collect import CollectorLimits
from journeylens.collect.journal import Position
from journeylens.workspace import Workspace


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("collect-ws")
    with Workspace.open(path) as ws:
        keys = {role: ws.create_key(role, f"{role} key")[0] for role in ("write", "read", "admin")}
        revoked, made = ws.create_key("write", "old site")
        ws.revoke_key(made.key_id)
        keys["revoked"] = revoked
    return path, keys


@pytest.fixture(scope="module")
def served(folder) -> Iterator[tuple[TestClient, dict[str, str]]]:
    path, keys = folder
    with TestClient(create_app(path)) as client:
        yield client, keys


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def stored(client: TestClient, message_ids: list[str]) -> list[dict[str, Any]]:
    """The stored events with these ids, after the drain has caught up."""
    state = client.app.state
    state.collector.drain.flush()
    with state.lock:
        events = state.workspace.backend.table("events")
        rows = events.filter(events.message_id.isin(message_ids)).to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: message_ids.index(r["message_id"]))


def quarantined(client: TestClient, raw_contains: str) -> list[dict[str, Any]]:
    state = client.app.state
    state.collector.drain.flush()
    with state.lock:
        table = state.workspace.quarantine()
        rows = table.filter(table.raw.contains(raw_contains)).to_pyarrow().to_pylist()
    return rows


def new_id() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------- SDK contracts


def test_an_analytics_python_batch_is_stored_with_its_clock_skew_corrected(served):
    client, keys = served
    ids = [new_id(), new_id()]
    # analytics-python 2.x: /v1/batch, JSON, HTTP Basic, items with their own timestamp and a
    # null anonymousId, the batch's sentAt on the envelope; optionally gzipped.
    batch = {
        "batch": [
            {
                "event": "Order Completed",
                "properties": {"revenue": 42.5, "currency": "eur", "order_id": "o-1"},
                "userId": "user-1",
                "anonymousId": None,
                "integrations": {},
                "context": {"library": {"name": "analytics-python", "version": "2.3.2"}},
                "timestamp": "2024-05-01T11:59:50.000000+00:00",
                "messageId": ids[0],
                "type": "track",
            },
            {
                "traits": {"email": "u1@example.com", "plan": "pro"},
                "userId": "user-1",
                "anonymousId": None,
                "integrations": {},
                "context": {"library": {"name": "analytics-python", "version": "2.3.2"}},
                "timestamp": "2024-05-01T11:59:55.000000+00:00",
                "messageId": ids[1],
                "type": "identify",
            },
        ],
        "sentAt": "2024-05-01T12:00:00.000000+00:00",
    }
    response = client.post(
        "/v1/batch",
        content=gzip.compress(json.dumps(batch).encode()),
        headers={
            **basic(keys["write"]),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": "analytics-python/2.3.2",
        },
    )
    assert response.status_code == 200
    assert response.json()["success"] is True
    rows = stored(client, ids)
    assert [r["type"] for r in rows] == ["track", "identify"]
    assert rows[0]["revenue"] == 42.5
    assert rows[0]["currency"] == "EUR"
    assert rows[0]["source"] == "write key"
    # timestamp = receivedAt - (sentAt - timestamp): 10 s before the server received it.
    assert (rows[0]["received_at"] - rows[0]["timestamp"]).total_seconds() == pytest.approx(10)


def test_an_analytics_js_event_sent_as_text_plain_with_the_key_in_the_body_is_stored(served):
    client, keys = served
    message_id = f"ajs-next-{uuid.uuid4().hex}"
    event = {
        "timestamp": "2024-05-01T12:00:00.120Z",
        "integrations": {},
        "type": "page",
        "properties": {"path": "/pricing", "url": "https://shop.example/pricing", "title": "P"},
        "name": "Pricing",
        "context": {
            "page": {"path": "/pricing", "referrer": "https://www.google.com/", "search": ""},
            "userAgent": "Mozilla/5.0",
            "locale": "en-US",
            "library": {"name": "analytics.js", "version": "npm:next-1.70.0"},
            "campaign": {"name": "spring", "source": "google", "medium": "cpc"},
        },
        "messageId": message_id,
        "anonymousId": "5c2b6e4e-8f3a-4bb0-9a51-1f0ab1d5d0c3",
        "writeKey": keys["write"],
        "userId": None,
        "sentAt": "2024-05-01T12:00:00.150Z",
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
    }
    response = client.post(
        "/v1/p",
        content=json.dumps(event),
        headers={"Content-Type": "text/plain", "Origin": "https://shop.example"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    [row] = stored(client, [message_id])
    assert row["type"] == "page"
    assert row["event"] == "Pricing"
    assert "writeKey" not in row["context"]
    assert keys["write"] not in json.dumps(row, default=str)


def test_an_analytics_js_batch_sent_to_the_short_batch_path_is_stored(served):
    client, keys = served
    ids = [f"ajs-next-{uuid.uuid4().hex}" for _ in range(3)]
    items = [
        {
            "timestamp": f"2024-05-01T12:00:0{n}.000Z",
            "integrations": {},
            "type": "track",
            "event": "Product Viewed",
            "properties": {"product_id": f"p{n}"},
            "context": {"library": {"name": "analytics.js", "version": "npm:next-1.70.0"}},
            "messageId": message_id,
            "anonymousId": "anon-js",
            "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
        }
        for n, message_id in enumerate(ids)
    ]
    body = {"writeKey": keys["write"], "batch": items, "sentAt": "2024-05-01T12:00:05.000Z"}
    response = client.post(
        "/v1/b", content=json.dumps(body), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 3
    assert [r["message_id"] for r in stored(client, ids)] == ids


def test_a_rudderstack_js_event_with_basic_auth_and_an_anonymous_id_header_is_stored(served):
    client, keys = served
    message_id = new_id()
    anonymous_id = "7d1c0b56-7a43-4d0f-9a5b-d2a8c3d1e001"
    event = {
        "channel": "web",
        "context": {
            "app": {"name": "RudderLabs JavaScript SDK", "namespace": "com.rudderlabs.javascript"},
            "library": {"name": "RudderLabs JavaScript SDK", "version": "2.48.0"},
            "userAgent": "Mozilla/5.0",
            "os": {"name": "", "version": ""},
            "locale": "en-GB",
            "screen": {"density": 2, "width": 1440, "height": 900},
            "traits": {},
            "page": {"path": "/cart", "url": "https://shop.example/cart"},
        },
        "type": "track",
        "messageId": message_id,
        "originalTimestamp": "2024-05-01T12:00:00.000Z",
        "anonymousId": anonymous_id,
        "userId": "",
        "event": "Cart Viewed",
        "properties": {"cart_id": "c-9"},
        "integrations": {"All": True},
        "sentAt": "2024-05-01T12:00:00.300Z",
    }
    response = client.post(
        "/v1/track",
        content=json.dumps(event),
        headers={
            **basic(keys["write"]),
            "Content-Type": "application/json;charset=UTF-8",
            "AnonymousId": base64.b64encode(anonymous_id.encode()).decode(),
        },
    )
    assert response.status_code == 200
    [row] = stored(client, [message_id])
    assert row["anonymous_id"] == anonymous_id
    assert row["user_id"] is None


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "how", ["basic", "header", "query", "body"], ids=["basic", "header", "query", "body"]
)
def test_a_write_key_is_read_from_basic_auth_a_header_the_query_or_the_body(served, how):
    client, keys = served
    key = keys["write"]
    message = {"event": "x", "userId": "u", "messageId": new_id()}
    headers = {"basic": basic(key), "header": {"X-Write-Key": key}}.get(how, {})
    params = {"writeKey": key} if how == "query" else None
    if how == "body":
        message["writeKey"] = key
    response = client.post("/v1/track", json=message, headers=headers, params=params)
    assert response.status_code == 200


@pytest.mark.parametrize("key_kind", [None, "read", "revoked", "garbage"])
def test_a_request_without_an_active_write_key_is_refused_and_nothing_is_stored(served, key_kind):
    client, keys = served
    message_id = new_id()
    headers = {} if key_kind is None else basic(keys.get(key_kind, "jl_write_000000000000_x"))
    response = client.post(
        "/v1/track", json={"event": "x", "userId": "u", "messageId": message_id}, headers=headers
    )
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "UNAUTHORIZED"
    assert body["code"] == "UNAUTHORIZED"
    assert body["message"]
    assert stored(client, [message_id]) == []


def test_an_admin_key_may_send_events(served):
    client, keys = served
    response = client.post(
        "/v1/identify", json={"userId": "u"}, headers={"X-Write-Key": keys["admin"]}
    )
    assert response.status_code == 200


# --------------------------------------------------------------------------- bad input


def test_a_bad_message_is_rejected_with_its_reason_and_quarantined_while_the_good_ones_are_kept(
    served,
):
    client, keys = served
    good = [new_id(), new_id()]
    marker = uuid.uuid4().hex
    batch = [
        {"type": "track", "event": "ok", "userId": "u", "messageId": good[0]},
        {"type": "track", "userId": "u", "properties": {"marker": marker}},
        {"type": "purchase", "userId": "u", "properties": {"marker": marker}},
        {
            "type": "track",
            "event": "late",
            "anonymousId": "a",
            "timestamp": "2099-01-01T00:00:00Z",
            "properties": {"marker": marker},
        },
        "not an object",
        {"type": "identify", "userId": "u", "messageId": good[1]},
    ]
    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(keys["write"]))
    assert response.status_code == 400
    body = response.json()
    detail = body["error"]["detail"]
    assert body["error"]["code"] == "INVALID_MESSAGES"
    assert body["code"] == "INVALID_MESSAGES"
    assert detail["accepted"] == 2
    reasons = [(r["index"], r["code"], r["field"]) for r in detail["rejected"]]
    assert reasons == [
        (1, "MISSING_FIELD", "event"),
        (2, "UNKNOWN_TYPE", "type"),
        (3, "FUTURE_TIMESTAMP", "timestamp"),
        (4, "BAD_JSON", None),
    ]
    assert all(r["message"] for r in detail["rejected"])
    assert [r["message_id"] for r in stored(client, good)] == good
    codes = sorted((r["code"], r["field"]) for r in quarantined(client, marker))
    assert codes == sorted((code, field) for _, code, field in reasons[:3])


def test_an_oversized_message_is_rejected_but_its_batch_is_kept(served):
    client, keys = served
    ok = new_id()
    batch = [
        {"type": "track", "event": "big", "userId": "u", "properties": {"blob": "x" * 33_000}},
        {"type": "track", "event": "small", "userId": "u", "messageId": ok},
    ]
    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(keys["write"]))
    assert response.status_code == 400
    [rejected] = response.json()["error"]["detail"]["rejected"]
    assert rejected["code"] == "OVERSIZE"
    assert rejected["index"] == 0
    assert len(stored(client, [ok])) == 1


def test_a_body_over_500_kb_is_refused_before_it_is_parsed(served):
    client, keys = served
    body = b'{"batch": [' + b"x" * (500 * 1024) + b"]}"  # not even JSON: never parsed
    response = client.post("/v1/batch", content=body, headers=basic(keys["write"]))
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_a_gzip_bomb_is_refused_without_inflating_it(served):
    client, keys = served
    bomb = gzip.compress(b'{"batch": [' + b" " * (50 * 1024 * 1024) + b"]}")
    assert len(bomb) < 100_000
    response = client.post(
        "/v1/batch", content=bomb, headers={**basic(keys["write"]), "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413


def test_a_batch_of_more_than_2500_messages_is_refused(served):
    client, keys = served
    batch = [{"type": "track", "event": "e", "userId": "u"}] * 2501
    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(keys["write"]))
    assert response.status_code == 413
    assert response.json()["code"] == "TOO_MANY_MESSAGES"


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b"{not json", {}, 400, "BAD_JSON"),
        (b'{"event": NaN, "userId": "u"}', {}, 400, "BAD_JSON"),
        (b"[1, 2]", {}, 400, "BAD_JSON"),
        (b"", {}, 400, "BAD_JSON"),
        (b"not gzip", {"Content-Encoding": "gzip"}, 400, "BAD_GZIP"),
        (gzip.compress(b'{"userId": "u"}')[:-12], {"Content-Encoding": "gzip"}, 400, "BAD_GZIP"),
        (b'{"userId": "u"}', {"Content-Encoding": "br"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
    ids=["broken", "nan", "array", "empty", "not-gzip", "cut-gzip", "brotli"],
)
def test_a_malformed_body_gets_a_clear_400_in_the_one_error_shape(
    served, content, headers, status, code
):
    client, keys = served
    response = client.post(
        "/v1/track", content=content, headers={**headers, "X-Write-Key": keys["write"]}
    )
    assert response.status_code == status
    body = response.json()
    assert body["error"]["code"] == code == body["code"]
    assert set(body["error"]) == {"code", "message", "detail"}


def test_a_batch_route_needs_a_list_of_messages(served):
    client, keys = served
    response = client.post(
        "/v1/batch", json={"batch": {"type": "track"}}, headers=basic(keys["write"])
    )
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_BATCH"


# --------------------------------------------------------------------------- server fields


def test_the_server_fills_message_id_received_at_ip_and_source(served):
    client, keys = served
    marker = uuid.uuid4().hex
    response = client.post(
        "/v1/t",
        json={"event": "no id", "userId": marker, "context": {"locale": "de"}},
        headers={"X-Write-Key": keys["write"]},
    )
    assert response.status_code == 200
    client.app.state.collector.drain.flush()
    with client.app.state.lock:
        events = client.app.state.workspace.backend.table("events")
        [row] = events.filter(events.user_id == marker).to_pyarrow().to_pylist()
    assert row["message_id"].startswith("jl-")
    assert json.loads(row["context"]) == {"locale": "de", "ip": "testclient"}
    assert row["received_at"] is not None
    assert row["source"] == "write key"


def test_a_journal_replayed_in_other_batches_quarantines_a_rejected_message_once(tmp_path):
    with Workspace.open(tmp_path) as ws:
        key, _ = ws.create_key("write", "replay")
    with TestClient(create_app(tmp_path)) as client:
        drain, journal = client.app.state.collector.drain, client.app.state.collector.journal
        good = [
            {"type": "track", "event": "ok", "userId": "u", "messageId": new_id()} for _ in range(3)
        ]
        bad = {
            "type": "track",
            "event": "late",
            "userId": "u",
            "messageId": new_id(),
            "timestamp": "yesterday",
        }
        client.post("/v1/batch", json={"batch": good}, headers=basic(key))
        drain.flush()  # the first request alone: the bad one comes in the next ingest, row 0
        client.post("/v1/batch", json={"batch": [bad, good[0]]}, headers=basic(key))
        drain.flush()
        # A crash that loses the drained mark: everything is drained again, in one batch
        # (the bad message is now row 3 of it).
        journal.mark_drained(Position(0, 0))
        drain.flush()
        assert len(quarantined(client, bad["messageId"])) == 1
        assert len(stored(client, [m["messageId"] for m in good])) == 3


def test_a_message_sent_twice_is_stored_once(served):
    client, keys = served
    message = {"event": "retry", "userId": "u", "messageId": new_id()}
    for _ in range(2):
        assert (
            client.post("/v1/track", json=message, headers=basic(keys["write"])).status_code == 200
        )
    assert len(stored(client, [message["messageId"]])) == 1


def test_a_browser_preflight_is_answered_for_the_collector_only(served):
    client, _ = served
    ask = {
        "Origin": "https://shop.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization",
    }
    allowed = client.options("/v1/batch", headers=ask)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "*"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "access-control-allow-origin" not in client.options("/api/analyses", headers=ask).headers


def test_analytics_js_gets_settings_that_send_its_events_back_to_this_server(served):
    client, keys = served
    response = client.get(
        f"/v1/projects/{keys['write']}/settings", headers={"Origin": "https://shop.example"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    settings = response.json()
    segment = settings["integrations"]["Segment.io"]
    assert segment["apiKey"] == keys["write"]
    assert segment["apiHost"] == "testserver/v1"
    assert segment["protocol"] == "http"
    assert settings["plan"]["track"]["__default"]["enabled"] is True
    assert settings["remotePlugins"] == []
    # What analytics.js would post to with these settings reaches the collector.
    url = f"{segment['protocol']}://{segment['apiHost']}/t"
    message = {"event": "From settings", "userId": "u", "messageId": new_id()}
    posted = client.post(url, content=json.dumps(message | {"writeKey": segment["apiKey"]}))
    assert posted.status_code == 200
    assert len(stored(client, [message["messageId"]])) == 1


@pytest.mark.parametrize("key_kind", ["read", "revoked", "garbage"])
def test_settings_are_refused_for_a_key_that_is_not_an_active_write_key(served, key_kind):
    client, keys = served
    key = keys.get(key_kind, "jl_write_000000000000_x")
    response = client.get(f"/v1/projects/{key}/settings")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_the_collector_routes_are_in_the_openapi_document(served):
    client, _ = served
    paths = client.get("/openapi.json").json()["paths"]
    for name in ("track", "identify", "page", "screen", "group", "alias", "batch"):
        assert "post" in paths[f"/v1/{name}"]


# --------------------------------------------------------------------------- overload


def test_an_overloaded_collector_answers_429_with_retry_after_until_the_drain_catches_up(folder):
    path, keys = folder
    app = create_app(path)
    app.state.collector_limits = CollectorLimits(max_backlog_bytes=1, retry_after_seconds=3)
    with TestClient(app) as client:
        drain = app.state.collector.drain
        drain.stop(flush=True)  # nothing moves the backlog now
        first = {"event": "x", "userId": "u", "messageId": new_id()}
        assert client.post("/v1/track", json=first, headers=basic(keys["write"])).status_code == 200
        refused = client.post(
            "/v1/track", json={"event": "x", "userId": "u"}, headers=basic(keys["write"])
        )
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "3"
        assert refused.json()["code"] == "RATE_LIMITED"
        drain.flush()
        assert client.post("/v1/track", json=first, headers=basic(keys["write"])).status_code == 200
