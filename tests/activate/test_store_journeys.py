"""The journey tables: migration, versions, the atomic tick, the outbox's one row per key, and
the event cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

import journeylens as jl
from journeylens.errors import WorkspaceError
from journeylens.schema import SCHEMA_VERSION
from journeylens.store.journeys import JOURNEY_TABLES, JourneyStore, TickChanges, utc

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)


@pytest.fixture
def store():
    ws = jl.Workspace.open()
    yield JourneyStore(ws.backend)
    ws.close()


def outbox_row(key: str, **changes):
    return {
        "idempotency_key": key,
        "instance_id": "i1",
        "kind": "message",
        "channel": "email",
        "person_id": "p1",
        "recipient": "a@b.c",
        "journey_id": "j",
        "journey_version": "v1",
        "node_id": "mail",
        "payload": "{}",
        "not_before": T0,
    } | changes


def test_the_journey_tables_come_with_schema_version_6():
    ws = jl.Workspace.open()
    assert SCHEMA_VERSION >= 6
    assert set(JOURNEY_TABLES) <= set(ws.backend.list_tables())


def test_a_backend_without_transactions_is_refused():
    with pytest.raises(WorkspaceError, match="embedded DuckDB"):
        JourneyStore(SimpleNamespace(name="pyspark"))


def test_publishing_a_new_version_retires_the_old_one_and_pausing_stops_the_newest(store):
    assert store.publish("j", "v1", "{}", 0, T0)
    assert not store.publish("j", "v1", "{}", 0, T0)  # the same definition again
    assert store.publish("j", "v2", "{}", 0, T0 + timedelta(hours=1))
    assert [(r["version"], r["status"]) for r in store.versions("j")] == [
        ("v2", "live"),
        ("v1", "retired"),
    ]
    store.set_paused("j", True)
    assert store.paused_journeys() == {"j"}
    store.publish("j", "v3", "{}", 0, T0 + timedelta(hours=2))  # a paused journey stays paused
    assert store.versions("j")[0]["status"] == "paused"


def test_the_outbox_keeps_one_row_per_idempotency_key(store):
    first = TickChanges()
    first.outbox["k1"] = outbox_row("k1")
    store.commit_tick(first, T0)
    store.mark_sent("k1", "prov-1", T0)
    replay = TickChanges()
    replay.outbox["k1"] = outbox_row("k1", payload='{"changed": true}')
    store.commit_tick(replay, T0 + timedelta(minutes=1))
    [row] = store.outbox()
    assert (row["status"], row["payload"], row["provider_message_id"]) == ("sent", "{}", "prov-1")


def test_a_tick_that_fails_midway_stores_nothing(store):
    changes = TickChanges()
    changes.outbox["k1"] = outbox_row("k1")
    changes.cursors["events"] = (T0, ["m1"])
    changes.instances["bad"] = {"instance_id": "bad"}  # NOT NULL columns missing
    with pytest.raises(Exception, match="NOT NULL"):
        store.commit_tick(changes, T0)
    assert store.outbox() == []
    assert store.cursor("events") == (None, set())


def test_the_cursor_adds_ids_at_the_same_time_and_replaces_them_when_time_moves(store):
    for at, ids in [(T0, ["a"]), (T0, ["b"]), (T0 + timedelta(seconds=1), ["c"])]:
        changes = TickChanges()
        changes.cursors["events"] = (at, ids)
        store.commit_tick(changes, at)
        if ids == ["b"]:
            assert store.cursor("events") == (T0, {"a", "b"})
    at, seen = store.cursor("events")
    assert (utc(at), seen) == (T0 + timedelta(seconds=1), {"c"})


def test_a_transient_failure_waits_for_its_retry_time_and_a_final_one_leaves_the_queue(store):
    changes = TickChanges()
    changes.outbox["k1"] = outbox_row("k1")
    changes.outbox["k2"] = outbox_row("k2")
    store.commit_tick(changes, T0)
    store.mark_failed("k1", "HTTP 503", T0 + timedelta(seconds=30))
    store.mark_failed("k2", "HTTP 400", None)
    assert store.due_sends(T0 + timedelta(seconds=10), 10) == []
    [retry] = store.due_sends(T0 + timedelta(seconds=30), 10)
    assert (retry["idempotency_key"], retry["attempts"], retry["last_error"]) == (
        "k1",
        1,
        "HTTP 503",
    )
    assert store.counts()["outbox_failed"] == 1


def test_many_acknowledgements_are_stored_in_one_statement(store):
    changes = TickChanges()
    for key in ("k1", "k2", "k3"):
        changes.outbox[key] = outbox_row(key)
    store.commit_tick(changes, T0)
    with store.transaction():
        store.mark_sent_many([("k1", "prov-1"), ("k2", None)], T0)
    rows = {r["idempotency_key"]: r for r in store.outbox()}
    assert [(rows[k]["status"], rows[k]["provider_message_id"]) for k in rows] == [
        ("sent", "prov-1"),
        ("sent", None),
        ("pending", None),
    ]
