"""The Journey map page carries the emotion line (mean sentiment by stage) with its table and
CSV when the workspace has feedback, and a short note when it has none."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.web.conftest import csv_rows

import journeylens as jl
from journeylens.api.app import create_app
from journeylens.api.keys import KEY_COOKIE
from journeylens.schema import STAGES


def test_the_journey_map_shows_how_customers_feel_at_each_stage(read_client):
    html = read_client.get("/journey-map").text
    assert 'data-title="Journey map"' in html
    assert 'data-title="Emotion along the journey"' in html
    assert "/csv/journey-map/emotion" in html
    stages = csv_rows(read_client, "/csv/journey-map/emotion")
    assert [r["value"] for r in stages] == list(STAGES)
    said = [r for r in stages if int(r["feedback"])]
    assert said
    assert all(-1 <= float(r["mean_score"]) <= 1 for r in said)


def test_without_feedback_the_page_says_so_instead_of_drawing_the_line(tmp_path):
    ws = jl.Workspace.open(tmp_path)
    ws.ingest(
        [
            {"type": "page", "messageId": "1", "userId": "u", "name": "Home",
             "timestamp": "2026-01-01T10:00:00Z"},
            {"type": "track", "messageId": "2", "userId": "u", "event": "Order Completed",
             "timestamp": "2026-01-01T10:05:00Z"},
        ]
    )  # fmt: skip
    key, _ = ws.create_key("read")
    ws.close()
    with TestClient(create_app(tmp_path)) as client:
        client.cookies.set(KEY_COOKIE, key)
        html = client.get("/journey-map").text
    assert "No feedback texts yet" in html
    assert 'data-title="Emotion along the journey"' not in html
