"""The Voice of customer page: the emotion line, the top issues with quotes and who said them,
each with its CSV; and feedback in the customer 360 journal with its sentiment."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import csv_rows as rows

from journeylens.web.pages import PAGES


@pytest.fixture(scope="module")
def client(read_client: TestClient) -> TestClient:
    return read_client


def test_the_page_is_listed_and_shows_the_emotion_line_and_the_issues(client):
    assert PAGES["voice"].title == "Voice of customer"
    html = client.get("/voice").text
    assert 'data-title="Emotion along the journey"' in html
    assert 'data-title="Frequent issues"' in html
    for table in ("emotion", "complaints", "topics", "growing_terms", "members"):
        assert f"/csv/voice/{table}" in html
    stages = [r for r in rows(client, "/csv/voice/emotion") if r["dimension"] == "stage"]
    assert [r["value"] for r in stages] == [
        "awareness",
        "consideration",
        "purchase",
        "retention",
        "advocacy",
    ]


def test_the_top_complaints_carry_quotes_and_drill_down_to_who_said_them(client):
    complaints = rows(client, "/csv/voice/complaints")
    assert complaints
    assert complaints[0]["complaint_rank"] == "1"
    assert complaints[0]["examples"]
    first = complaints[0]["topic_id"]
    said = rows(client, f"/csv/voice/members?topic={first}")
    assert len(said) == int(complaints[0]["texts"])
    assert {r["topic_id"] for r in said} == {first}
    assert client.get("/voice?topic=negative-99").status_code == 400


def test_a_bad_parameter_is_a_clear_error(client):
    response = client.get("/voice?since=soon")
    assert response.status_code == 400
    assert "since" in response.text


def test_feedback_shows_in_the_customer_journal_with_its_sentiment(client):
    said = rows(client, "/csv/voice/members")[0]
    person = said["person_id"]
    journal = rows(client, f"/persons/{person}/timeline.csv")
    feedback = [r for r in journal if r["message_id"] == said["message_id"]]
    assert feedback[0]["feedback_text"] == said["text"]
    assert feedback[0]["sentiment"] == said["label"]
    assert float(feedback[0]["sentiment_score"]) == pytest.approx(float(said["score"]))
    others = [r for r in journal if r["kind"] != "feedback"]
    assert all(r["sentiment"] == "" for r in others)
    html = client.get(f"/persons/{person}").text
    assert "badge sentiment-" in html


def test_the_nps_trend_tile_shows_the_registered_nps_analysis(client):
    html = client.get("/voice").text
    assert 'data-title="NPS trend"' in html
    assert "once the nps analysis is installed" not in html
    nps = rows(client, "/csv/voice/nps")
    assert {r["part"] for r in nps} >= {"overall", "trend"}
