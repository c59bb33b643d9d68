"""Persons: profile, paged timeline, GDPR export, and erasure that stays erased."""

from __future__ import annotations

import joblib
import pytest


def test_a_profile_has_traits_identifiers_segments_and_scores_with_reasons(served):
    person = served.client.get(
        f"/api/persons/{served.person_id}", headers=served.headers("read")
    ).json()
    assert person["person_id"] == served.person_id
    assert {"id_type", "id_value"} <= set(person["identifiers"][0])
    assert "buyers" in person["segments"]
    [score] = person["scores"]
    assert score["model"] == "churn"
    assert score["reasons"][0]["effect"] == 0.4
    assert isinstance(person["traits"], dict)
    assert person["message_count"] > 0


def test_the_timeline_pages_through_every_event_once_newest_first(served):
    read = served.headers("read")
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = served.client.get(
            f"/api/persons/{served.person_id}/timeline", params=params, headers=read
        ).json()
        seen += page["events"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [e["message_id"] for e in seen]
    assert len(ids) == len(set(ids))
    person = served.client.get(f"/api/persons/{served.person_id}", headers=read).json()
    assert len(ids) == person["message_count"]
    stamps = [e["timestamp"] for e in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert {"channel", "stage", "properties"} <= set(seen[0])


def test_a_cursor_that_was_not_given_out_is_refused(served):
    response = served.client.get(
        f"/api/persons/{served.person_id}/timeline?cursor=abc", headers=served.headers("read")
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_INPUT"


def test_an_export_holds_the_profile_and_every_event(served):
    admin = served.headers("admin")
    export = served.client.get(f"/api/persons/{served.person_id}/export", headers=admin).json()
    assert export["person"]["person_id"] == served.person_id
    assert len(export["events"]) == export["person"]["message_count"]
    assert all(e["person_id"] == served.person_id for e in export["events"])
    assert export["merge_log"]
    assert export["exported_at"]


def test_an_export_needs_an_admin_key(served):
    url = f"/api/persons/{served.person_id}/export"
    assert served.client.get(url, headers=served.headers("read")).status_code == 403


@pytest.fixture(scope="module")
def erased(serve):
    """A workspace of its own (erasure changes it) with one person erased over the API."""
    app = serve(customers=30, seed=5)
    # A trained model's file: fitted parameters over everyone, which erasure keeps.
    (app.folder / "models").mkdir()
    joblib.dump({"format": 1, "model": {"coef": [0.4, -1.2]}}, app.folder / "models/churn.joblib")
    admin = app.headers("admin")
    before = app.client.get(f"/api/persons/{app.person_id}/export", headers=admin).json()
    result = app.client.delete(f"/api/persons/{app.person_id}", headers=admin)
    assert result.status_code == 200, result.text
    return app, before, result.json()


def test_erasure_deletes_the_persons_events_scores_and_identities(erased):
    app, before, result = erased
    assert result["events"] == len(before["events"]) > 0
    assert result["predictions"] == 1
    assert result["identifiers"] == len(before["person"]["identifiers"])
    read = app.headers("read")
    assert app.client.get(f"/api/persons/{app.person_id}", headers=read).status_code == 404
    ws = app.client.app.state.workspace
    with app.client.app.state.lock:
        ids = {e["message_id"] for e in before["events"]}
        stored = ws.table("events").message_id.to_pyarrow().to_pylist()
        assert ids.isdisjoint(stored)
        values = {i["id_value"] for i in before["person"]["identifiers"]}
        assert values.isdisjoint(ws.table("id_map").id_value.to_pyarrow().to_pylist())
        assert ws.predictions().count().execute() == 0


def test_the_erasure_summary_says_what_was_erased_where_and_that_models_stay(erased):
    app, before, result = erased
    summary = "\n".join(result["summary"])
    assert f"events: {len(before['events'])} rows deleted from the events table" in summary
    assert "predictions: 1 rows deleted from the predictions table" in summary
    assert "suppressed_identifiers" in summary
    assert "dashboard pages dropped" in summary
    [model] = result["models"]
    assert model["model"] == "churn"
    assert model["file"] == "models/churn.joblib"
    assert "aggregate" in model["kept_because"]
    assert "models/churn.joblib: kept" in summary
    assert (app.folder / "models/churn.joblib").exists()


def test_erasure_drops_the_dashboards_cached_pages(serve):
    app = serve(customers=30, seed=6)
    cache = app.client.app.state.web_cache
    cache.get_or_compute(("page", "persons"), lambda: app.person_id)
    response = app.client.delete(f"/api/persons/{app.person_id}", headers=app.headers("admin"))
    assert response.status_code == 200
    assert cache.get_or_compute(("page", "persons"), lambda: "recomputed") == "recomputed"


def test_erasure_removes_the_person_from_segments_and_cached_results(erased):
    app, _, _ = erased
    members = app.client.get("/api/segments/buyers/members?limit=1000", headers=app.headers("read"))
    assert app.person_id not in members.json()["person_ids"]


def test_replayed_and_later_events_of_an_erased_person_are_not_stored(erased):
    app, before, _ = erased
    ws, lock = app.client.app.state.workspace, app.client.app.state.lock
    user_id = before["person"]["user_id"]
    later = {
        "type": "track",
        "event": "Order Completed",
        "userId": f"  {user_id}  ",  # the identity layer's normalisation applies
        "messageId": "after-erasure-1",
        "timestamp": "2026-02-01T00:00:00Z",
    }
    with lock:
        replay = ws.ingest(app.messages)
        report = ws.ingest([later])
        assert replay.rejected_by_code["SUPPRESSED"] == len(before["events"])
        assert replay.accepted == 0
        assert report.rejected_by_code == {"SUPPRESSED": 1}
        assert ws.quarantine().filter(ws.quarantine().raw.contains(user_id)).count().execute() == 0
    read = app.headers("read")
    assert app.client.get(f"/api/persons/{app.person_id}", headers=read).status_code == 404


def test_erasing_an_unknown_person_is_a_404(served):
    response = served.client.delete("/api/persons/p_nobody", headers=served.headers("admin"))
    assert response.status_code == 404
