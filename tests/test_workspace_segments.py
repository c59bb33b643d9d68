"""Saved segments: saved by name, recomputed from the events on every read, and migrated in."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

import journeylens as jl
from journeylens.errors import SpecError, UnknownNameError, ValidationError
from journeylens.schema import SCHEMA_VERSION

NOW = datetime(2026, 2, 1, tzinfo=UTC)

ADDED_NOT_BOUGHT = {
    "rule": {
        "kind": "all",
        "conditions": [
            {"kind": "event", "event": "Product Added", "within": "7d"},
            {"kind": "event", "event": "Order Completed", "within": "7d", "did": False},
        ],
    }
}


def track(number, user, event, day):
    return {
        "type": "track",
        "event": event,
        "userId": user,
        "messageId": f"m{number}",
        "timestamp": f"2026-01-{day:02d}T10:00:00Z",
    }


def open_ws(path=None):
    return jl.Workspace.open(path, clock=lambda: NOW)


def test_a_saved_segment_lists_its_members_recomputed_from_the_events():
    ws = open_ws()
    ws.ingest([track(1, "u1", "Product Added", 20), track(2, "u2", "Product Added", 21)])
    ws.save_segment("cart abandoners", ADDED_NOT_BOUGHT)
    first = ws.segment_members("cart abandoners")
    assert (first.count, first.persons) == (2, 2)
    # u2 buys: the next read leaves them out, without saving anything again.
    ws.ingest([track(3, "u2", "Order Completed", 22)])
    second = ws.segment_members("cart abandoners")
    assert second.count == 1
    assert set(first.person_ids) - set(second.person_ids)


def test_segments_lists_names_specs_and_when_they_were_saved():
    ws = open_ws()
    spec = ws.save_segment("b", ADDED_NOT_BOUGHT)
    ws.save_segment("a", {"rule": {"kind": "trait", "property": "plan", "value": "pro"}})
    saved = ws.segments()
    assert [s["name"] for s in saved] == ["a", "b"]
    assert saved[1]["analysis"] == "segment"
    assert saved[1]["spec"] == spec.model_dump(mode="json")
    assert saved[1]["saved_at"] == NOW


def test_saving_under_a_taken_name_replaces_the_segment():
    ws = open_ws()
    ws.save_segment("s", ADDED_NOT_BOUGHT)
    ws.save_segment("s", {"rule": {"kind": "event", "event": "Home"}})
    [saved] = ws.segments()
    assert saved["spec"]["rule"]["event"] == "Home"


def test_a_deleted_segment_is_gone():
    ws = open_ws()
    ws.save_segment("s", ADDED_NOT_BOUGHT)
    ws.delete_segment("s")
    assert ws.segments() == []
    with pytest.raises(UnknownNameError):
        ws.delete_segment("s")


def test_an_unknown_segment_name_suggests_the_closest_one():
    ws = open_ws()
    ws.save_segment("cart abandoners", ADDED_NOT_BOUGHT)
    with pytest.raises(UnknownNameError, match="Did you mean 'cart abandoners'"):
        ws.segment_members("cart abandoner")


def test_a_bad_spec_or_name_is_refused_and_nothing_is_saved():
    ws = open_ws()
    with pytest.raises(SpecError, match="rule"):
        ws.save_segment("s", {"rule": {"kind": "event"}})
    with pytest.raises(ValidationError, match="segment name"):
        ws.save_segment(" ", ADDED_NOT_BOUGHT)
    assert ws.segments() == []


def test_saved_segments_persist_on_disk(tmp_path):
    with open_ws(tmp_path) as ws:
        ws.save_segment("s", ADDED_NOT_BOUGHT)
    with open_ws(tmp_path) as ws:
        assert [s["name"] for s in ws.segments()] == ["s"]


def test_a_version_1_workspace_gains_the_segments_table_on_open(tmp_path):
    with open_ws(tmp_path) as ws:
        ws.ingest([track(1, "u1", "Product Added", 20)])
    # Turn the file back into what journeylens 1 wrote: no segments table, version 1.
    con = duckdb.connect(str(tmp_path / "journeylens.duckdb"))
    con.execute("DROP TABLE segments")
    con.execute("UPDATE jl_meta SET value = '1' WHERE key = 'schema_version'")
    con.close()
    with open_ws(tmp_path) as ws:
        assert ws.info()["schema_version"] == SCHEMA_VERSION
        ws.save_segment("s", ADDED_NOT_BOUGHT)
        assert ws.segment_members("s").count == 1


def test_an_rfm_segment_is_saved_by_segment_name_and_recomputed():
    ws = open_ws()
    ws.ingest(
        [
            track(1, "u1", "Order Completed", 1),
            track(2, "u2", "Order Completed", 20),
            track(3, "u2", "Order Completed", 21),
            track(4, "u3", "Home", 21),
        ]
    )
    ws.save_segment("lapsed", {"segments": ["Lost", "Hibernating"]}, analysis="rfm")
    lapsed = ws.segment_members("lapsed")
    # u1 bought once, long ago; u3 never bought and is not a customer, but is a person.
    assert (lapsed.count, lapsed.persons) == (1, 3)
    assert ws.segments()[0]["analysis"] == "rfm"


def test_an_unknown_segment_analysis_or_rfm_name_is_refused():
    ws = open_ws()
    with pytest.raises(UnknownNameError, match="Did you mean 'rfm'"):
        ws.save_segment("s", {"segments": ["Lost"]}, analysis="rfn")
    with pytest.raises(SpecError, match="segments"):
        ws.save_segment("s", {"segments": ["Lots"]}, analysis="rfm")
