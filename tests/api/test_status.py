"""Health, ingest status, rejected rows and predictions."""

from __future__ import annotations

from journeylens.schema import SCHEMA_VERSION


def test_health_answers_without_a_key(served):
    response = served.client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_ingest_status_counts_what_the_workspace_holds(served):
    status = served.client.get("/api/ingest", headers=served.headers("read")).json()
    assert status["events"] >= served.messages.num_rows
    assert status["persons"] > 0
    assert status["schema_version"] == SCHEMA_VERSION
    assert isinstance(status["rejected_by_code"], dict)
    assert status["data_version"]


def test_rejected_rows_are_listed_with_their_reason_and_raw_payload(served):
    bad = {"type": "track", "event": "No Id", "messageId": "rejected-1"}
    with served.client.app.state.lock:
        served.client.app.state.workspace.ingest([bad], source_name="status-test")
    read = served.headers("read")
    page = served.client.get("/api/ingest/rejected?code=MISSING_ID", headers=read).json()
    assert page["total"] >= 1
    row = next(r for r in page["rows"] if '"rejected-1"' in r["raw"])
    assert row["code"] == "MISSING_ID"
    assert row["message"]
    assert row["source"] == "status-test"
    status = served.client.get("/api/ingest", headers=read).json()
    assert status["rejected_by_code"]["MISSING_ID"] >= 1


def test_predictions_are_listed_highest_score_first_with_a_summary_per_model(served):
    body = served.client.get("/api/predictions?model=churn", headers=served.headers("read")).json()
    assert body["models"]["churn"]["rows"] == body["total"] == 1
    row = body["rows"][0]
    assert row["person_id"] == served.person_id
    assert row["score"] == 0.8
    assert row["reasons"][0]["feature"] == "days_since_last_order"
    assert row["details"] == {"horizon": "90d"}


def test_predictions_of_an_unknown_model_are_an_empty_page(served):
    body = served.client.get("/api/predictions?model=nope", headers=served.headers("read")).json()
    assert body["rows"] == []
    assert body["total"] == 0
