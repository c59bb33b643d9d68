"""Feedback events are read into one tidy row each (Spark agrees: see test_nps.py)."""

from __future__ import annotations

import pydantic
import pytest

from journeylens.feedback.source import FEEDBACK_COLUMNS, FeedbackSource, feedback_table

ROWS = [
    {
        "person": "a",
        "event": "Survey Responded",
        "ts": 10,
        "channel": "Web",
        "stage": "retention",
        "session_id": "s1",
        "properties": {"survey_id": "nps_2026", "nps": 9, "text": "Great shop"},
    },
    {
        "person": "b",
        "event": "review_submitted",
        "ts": 20,
        "properties": {"text": "   ", "review_body": "배송이 느려요", "rating": "2"},
    },
    {
        "person": None,
        "event": "survey_answered",
        "ts": 30,
        "properties": {"survey_id": "s", "question_id": "q2", "answer": "Price", "score": "n/a"},
    },
    {"person": "c", "event": "chat_message", "ts": 40, "properties": {"message": 'say "hi"'}},
    {"person": "c", "event": "Order Completed", "ts": 50, "properties": {"text": "not feedback"}},
]


def _rows(table):
    return sorted(table.to_pyarrow().to_pylist(), key=lambda r: r["message_id"])


def test_only_feedback_events_come_back_with_every_column(make_events):
    table = feedback_table(make_events(ROWS))
    assert tuple(table.columns) == FEEDBACK_COLUMNS
    assert [r["event"] for r in _rows(table)] == [
        "Survey Responded",
        "review_submitted",
        "survey_answered",
        "chat_message",
    ]


def test_the_first_non_blank_text_and_the_first_numeric_rating_win(make_events):
    rows = _rows(feedback_table(make_events(ROWS)))
    assert [r["text"] for r in rows] == ["Great shop", "배송이 느려요", None, 'say "hi"']
    assert [r["rating"] for r in rows] == [9.0, 2.0, None, None]
    assert rows[2]["answer"] == "Price"
    assert (rows[2]["survey_id"], rows[2]["question_id"]) == ("s", "q2")
    assert (rows[0]["channel"], rows[0]["stage"], rows[0]["session_id"]) == (
        "Web",
        "retention",
        "s1",
    )


def test_anonymous_feedback_is_kept_without_a_person(make_events):
    rows = _rows(feedback_table(make_events(ROWS)))
    assert rows[2]["person_id"] is None


def test_a_source_names_its_own_events_and_properties(make_events):
    source = FeedbackSource(
        events=["Order Completed"], text_properties=["text"], rating_properties=["stars"]
    )
    rows = _rows(feedback_table(make_events(ROWS), source))
    assert [(r["event"], r["text"], r["rating"]) for r in rows] == [
        ("Order Completed", "not feedback", None)
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("events", [], "at least 1"),
        ("text_properties", ["text", " "], "blank"),
        ("rating_properties", ["nps", "nps"], "unique"),
        ("survey_id_property", "", "at least 1"),
        ("colour", "red", "Extra inputs"),
    ],
)
def test_a_bad_source_is_refused_with_a_clear_message(field, value, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        FeedbackSource(**{field: value})
