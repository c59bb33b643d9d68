"""The workspace: ingest, quarantine, resolution, enriched events, persistence."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeylens as jl
from journeylens.errors import (
    SchemaVersionError,
    UnknownNameError,
    ValidationError,
    WorkspaceError,
)

NOW = datetime(2026, 2, 1, tzinfo=UTC)


def open_ws(path=None, **kwargs):
    return jl.Workspace.open(path, clock=lambda: NOW, **kwargs)


def msg(i, **extra):
    return {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": f"a{i % 3}",
        "messageId": f"m{i}",
        "timestamp": f"2026-01-01T10:{i % 60:02d}:00Z",
    } | extra


JOURNEY = [
    {
        "type": "page",
        "name": "Home",
        "anonymousId": "anon-1",
        "messageId": "p1",
        "timestamp": "2026-01-01T10:00:00Z",
        "context": {"campaign": {"source": "google", "medium": "cpc", "name": "brand"}},
    },
    {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "anon-1",
        "messageId": "t1",
        "timestamp": "2026-01-01T10:05:00Z",
    },
    {
        "type": "identify",
        "anonymousId": "anon-1",
        "userId": "user-1",
        "messageId": "i1",
        "timestamp": "2026-01-01T10:06:00Z",
        "traits": {"email": " Ann@Example.com "},
    },
    {
        "type": "track",
        "event": "Order Completed",
        "userId": "user-1",
        "messageId": "t2",
        "timestamp": "2026-01-01T10:10:00Z",
        "properties": {"revenue": 30},
    },
    {
        "type": "track",
        "event": "Email Opened",
        "userId": "user-1",
        "messageId": "t3",
        "timestamp": "2026-01-03T09:00:00Z",
        "context": {"channel": "email"},
    },
    {
        "type": "identify",
        "anonymousId": "anon-2",
        "messageId": "i2",
        "timestamp": "2026-01-04T09:00:00Z",
        "traits": {"email": "ann@example.com"},
    },
]


def table_counts(ws):
    return {k: v for k, v in ws.info().items() if isinstance(v, int)}


def test_ingesting_the_same_batch_twice_adds_nothing():
    ws = open_ws()
    first = ws.ingest([msg(i) for i in range(10)])
    before = table_counts(ws)
    second = ws.ingest([msg(i) for i in range(10)])
    assert (first.accepted, second.accepted, second.duplicates) == (10, 0, 10)
    assert table_counts(ws) == before


def test_bad_rows_are_quarantined_with_their_payload_while_good_rows_land():
    ws = open_ws()
    bad = {"type": "track", "event": "x"}
    report = ws.ingest([msg(1), bad, "{oops", msg(2)])
    assert (report.rows, report.accepted, report.rejected_count) == (4, 2, 2)
    assert report.rejected_by_code == {"MISSING_ID": 1, "BAD_JSON": 1}
    assert [r.row for r in report.rejected] == [1, 2]
    assert "userId or anonymousId" in report.rejected[0].message
    rows = ws.quarantine().order_by("row").to_pyarrow().to_pylist()
    assert [json.loads(rows[0]["raw"]), rows[1]["raw"]] == [bad, "{oops"]
    assert {r["batch_id"] for r in rows} == {report.batch_id}


def test_bad_rows_ingested_again_are_not_quarantined_twice():
    ws = open_ws()
    batch = [msg(1), {"type": "track", "event": "x"}, "{oops"]
    ws.ingest(batch)
    before = table_counts(ws)
    again = ws.ingest(batch)
    assert again.rejected_count == 2  # still reported: the caller sent them again
    assert table_counts(ws) == before


def test_a_file_imported_twice_adds_nothing(tmp_path):
    path = tmp_path / "events.csv"
    pd.DataFrame(
        {
            "customer": ["c1", "c2"],
            "ts": ["2026-01-01 10:00", "2026-01-01 11:00"],
            "event": ["a", "b"],
        }
    ).to_csv(path, index=False)
    ws = open_ws()
    mapping = {"user_id": "customer", "timestamp": "ts"}
    assert ws.ingest(path, mapping=mapping).accepted == 2
    again = ws.ingest(path, mapping=mapping)
    assert (again.accepted, again.duplicates) == (0, 2)
    assert ws.table("events").source.to_pyarrow().to_pylist() == ["events.csv"] * 2


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 30), min_size=1, max_size=20), st.randoms(use_true_random=False))
def test_ingest_is_idempotent_in_any_order(ids, rnd):
    ws = open_ws()
    batch = [msg(i) for i in ids]
    ws.ingest(batch)
    stored = sorted(ws.table("events").message_id.to_pyarrow().to_pylist())
    rnd.shuffle(batch)
    ws.ingest(batch)
    assert sorted(ws.table("events").message_id.to_pyarrow().to_pylist()) == stored
    assert stored == sorted({f"m{i}" for i in ids})


def test_events_carry_person_channel_session_and_stage():
    ws = open_ws()
    ws.ingest(JOURNEY)
    ev = ws.events().order_by("timestamp").to_pandas()
    person = ev.set_index("message_id").person_id
    # anon-1's browsing, the login and the purchase are one person; anon-2 shares the email.
    assert person[["p1", "t1", "i1", "t2", "t3", "i2"]].nunique() == 1
    channel = ev.set_index("message_id").channel
    assert channel["p1"] == "Paid Search"
    assert channel["t1"] == "Paid Search"  # same session as the paid click
    assert channel["t3"] == "Email"
    session = ev.set_index("message_id").session_id
    assert session["p1"] == session["t2"] != session["t3"]
    stage = ev.set_index("message_id").stage
    assert stage["t2"] == "purchase"


def test_persons_have_latest_traits_and_first_and_last_seen():
    ws = open_ws()
    ws.ingest(JOURNEY)
    [person] = ws.persons().to_pyarrow().to_pylist()
    assert person["user_id"] == "user-1"
    assert person["first_seen"] == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert person["last_seen"] == datetime(2026, 1, 4, 9, tzinfo=UTC)


def test_events_are_refreshed_after_new_data_arrives():
    ws = open_ws()
    ws.ingest(JOURNEY[:2])
    assert ws.events().count().execute() == 2
    ws.ingest(JOURNEY[2:])
    assert ws.events().count().execute() == len(JOURNEY)
    assert ws.events().person_id.nunique().execute() == 1


def test_invalidating_an_edge_splits_the_person_again():
    ws = open_ws()
    ws.ingest(JOURNEY)
    ws.resolve_identities()
    log = ws.table("merge_log")
    email_edge = (
        log.filter((log.left_value == "anon-2") | (log.right_value == "anon-2"))
        .edge_id.to_pyarrow()
        .to_pylist()
    )
    assert ws.invalidate_edges(email_edge, reason="shared inbox") == len(email_edge)
    assert ws.events().person_id.nunique().execute() == 2
    assert ws.invalidate_edges(email_edge) == 0


def test_an_unknown_edge_id_is_refused():
    ws = open_ws()
    ws.ingest(JOURNEY)
    ws.resolve_identities()
    with pytest.raises(UnknownNameError, match="edge id"):
        ws.invalidate_edges(["nope"])


def test_a_workspace_on_disk_keeps_events_and_settings(tmp_path):
    ws = open_ws(tmp_path / "ws", settings={"enrich": {"session_timeout": "45m"}})
    ws.ingest(JOURNEY)
    ws.close()
    again = open_ws(tmp_path / "ws")
    assert again.settings.enrich.session_timeout == "45m"
    assert again.table("events").count().execute() == len(JOURNEY)


def test_a_workspace_from_a_newer_version_is_refused(tmp_path):
    ws = open_ws(tmp_path / "ws")
    ws._catalog.set("schema_version", "999")
    ws.close()
    with pytest.raises(SchemaVersionError, match="Upgrade journeylens"):
        open_ws(tmp_path / "ws")


def test_bad_arguments_get_clear_errors(tmp_path):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(WorkspaceError, match="not a folder"):
        open_ws(afile)
    with pytest.raises(ValidationError, match="session_timeout"):
        open_ws(settings={"enrich": {"session_timeout": "soon"}})
    with pytest.raises(ValidationError, match="Invalid setting"):
        open_ws(settings={"ingest": {"chunk_rows": 0}})
    with pytest.raises(UnknownNameError, match="Did you mean 'events'"):
        open_ws().table("event")


def test_a_csv_line_that_does_not_split_into_the_columns_is_quarantined(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "user_id,event,timestamp\n"
        "u1,a,2026-01-01T00:00:00Z\n"
        "u2,b,2026-01-01T00:00:00Z,surplus\n"
        "u3,c,2026-01-01T00:00:00Z\n"
    )
    ws = open_ws()
    report = ws.ingest(path)
    assert (report.accepted, report.rejected_by_code) == (2, {"BAD_ROW": 1})
    [bad] = ws.quarantine().to_pyarrow().to_pylist()
    assert bad["raw"] == "u2,b,2026-01-01T00:00:00Z,surplus"
    assert bad["row"] == 1  # the second record after the header


def test_rows_stored_before_a_source_fails_are_kept_and_served(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(msg(i)) for i in range(4)) + "\n")
    ws = jl.Workspace.open(clock=lambda: NOW, settings={"ingest": {"chunk_rows": 2}})
    ws.ingest(path)
    assert ws.events().count().execute() == 4

    class Messages(list):
        """A message list whose reading fails half-way, like a file cut short."""

        def __getitem__(self, item):
            if isinstance(item, slice) and item.start >= 2:
                raise OSError("disk went away")
            return super().__getitem__(item)

    with pytest.raises(OSError, match="disk went away"):
        ws.ingest(Messages([msg(i) for i in range(10, 14)]))
    assert ws.events().count().execute() == 6
