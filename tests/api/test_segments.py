"""Saved segments over the API: save, list, members, CSV export, delete."""

from __future__ import annotations

import csv
import io

SPEC = {"rule": {"kind": "event", "event": "Product Viewed", "within": "365d"}}


def test_an_admin_saves_a_segment_that_everyone_with_a_read_key_lists(served):
    body = {"name": "viewers", "spec": SPEC}
    saved = served.client.post("/api/segments", json=body, headers=served.headers("admin"))
    assert saved.status_code == 201
    assert saved.json()["spec"]["rule"]["event"] == "Product Viewed"
    listed = served.client.get("/api/segments", headers=served.headers("read")).json()
    assert {"buyers", "viewers"} <= {s["name"] for s in listed["segments"]}


def test_members_are_paged_and_counted(served):
    read = served.headers("read")
    page = served.client.get("/api/segments/buyers/members?limit=2", headers=read).json()
    assert page["count"] >= 1
    assert len(page["person_ids"]) <= 2
    assert 0 < page["share"] <= 1
    everyone = served.client.get("/api/segments/buyers/members?limit=1000", headers=read).json()
    assert served.person_id in everyone["person_ids"]
    assert len(everyone["person_ids"]) == everyone["count"]


def test_the_csv_export_has_a_header_and_one_row_per_member(served):
    read = served.headers("read")
    response = served.client.get("/api/segments/buyers/export", headers=read)
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    count = served.client.get("/api/segments/buyers/members", headers=read).json()["count"]
    assert len(rows) == count
    assert set(rows[0]) == {"person_id", "user_id", "first_seen", "last_seen", "message_count"}


def test_a_cell_that_a_spreadsheet_would_run_as_a_formula_is_kept_as_text(served):
    ws, lock = served.client.app.state.workspace, served.client.app.state.lock
    message = {
        "type": "track",
        "event": "Formula Test",
        "userId": '=HYPERLINK("http://evil")',
        "messageId": "formula-1",
        "timestamp": "2026-01-02T00:00:00Z",
    }
    with lock:
        ws.ingest([message])
        ws.save_segment("formula", {"rule": {"kind": "event", "event": "Formula Test"}})
    text = served.client.get("/api/segments/formula/export", headers=served.headers("read")).text
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["user_id"].startswith("'=")


def test_a_bad_segment_spec_is_refused_with_the_field_named(served):
    body = {"name": "bad", "spec": {"rule": {"kind": "event"}}}
    response = served.client.post("/api/segments", json=body, headers=served.headers("admin"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_SPEC"


def test_a_deleted_segment_is_gone(served):
    admin = served.headers("admin")
    served.client.post("/api/segments", json={"name": "temp", "spec": SPEC}, headers=admin)
    assert served.client.delete("/api/segments/temp", headers=admin).json() == {"deleted": "temp"}
    response = served.client.get("/api/segments/temp/members", headers=admin)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "UNKNOWN_NAME"
