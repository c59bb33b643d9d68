"""Surveys check their questions and answers; exports become answer events, bad rows set aside."""

from __future__ import annotations

import json

import pandas as pd
import pydantic
import pytest

from journeylens.errors import MappingError, SourceError, SpecError, UnsupportedFormatError
from journeylens.feedback.survey_import import SurveyExportMapping, survey_export_to_messages
from journeylens.feedback.surveys import Question, Survey, parse_survey

SURVEY = Survey(
    id="post_order",
    name="After your order",
    questions=[
        {"id": "nps", "type": "nps", "text": "Would you recommend us?"},
        {"id": "csat", "type": "csat", "text": "How satisfied are you?"},
        {"id": "why", "type": "choice", "text": "Main reason?", "options": ["Price", "Speed"]},
        {"id": "more", "type": "text", "text": "Anything else?"},
    ],
)


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("nps", ["0", 10, 7.0, " 9 "], [11, -1, "9.5", "nine", True, None]),
        ("csat", [1, "5"], [0, 6, "4.2"]),
        ("text", ["fine", "배송이 느려요"], ["  ", 3]),
    ],
)
def test_each_question_type_accepts_its_scale_and_refuses_the_rest(kind, good, bad):
    question = Question(id="q", type=kind, text="?")
    for value in good:
        question.parse_answer(value)
    for value in bad:
        with pytest.raises(ValueError, match=kind):
            question.parse_answer(value)


def test_a_choice_answer_must_be_one_of_the_options():
    question = SURVEY.question("why")
    assert question.parse_answer(" Price ") == "Price"
    with pytest.raises(ValueError, match=r"not one of the options \['Price', 'Speed'\]"):
        question.parse_answer("Colour")


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"questions": []}, "at least 1"),
        ({"questions": [{"id": "a", "type": "nps", "text": "?"}] * 2}, "unique; repeated"),
        ({"questions": [{"id": "a", "type": "choice", "text": "?", "options": ["x"]}]}, "two"),
        ({"questions": [{"id": "a", "type": "nps", "text": "?", "options": ["x"]}]}, "only"),
        ({"questions": [{"id": "a", "type": "stars", "text": "?"}]}, "questions.0.type"),
        ({"id": "has space"}, "id: String should match"),
    ],
)
def test_a_bad_survey_is_refused_naming_the_field(definition, message):
    good = {"id": "s", "name": "S", "questions": [{"id": "q", "type": "nps", "text": "?"}]}
    with pytest.raises(SpecError, match=message):
        parse_survey(good | definition)


def test_a_survey_round_trips_through_json_text():
    assert parse_survey(SURVEY.model_dump_json()) == SURVEY
    with pytest.raises(KeyError, match="has no question 'x'"):
        SURVEY.question("x")


EXPORT = pd.DataFrame(
    {
        "user_id": ["u1", "", "u3", "u4", "u5", ""],
        "email": ["", "b@x.com", "", "", "", ""],
        "submitted_at": [
            "2026-01-02T10:00:00Z",
            "2026-01-03 09:00",
            "2026-01-04",
            "yesterday",
            "2026-01-05",
            "2026-01-06",
        ],
        "nps": ["9", "3", "12", "8", "", "10"],
        "csat": ["5", "", "4", "", "", ""],
        "why": ["Speed", "", "", "", "", ""],
        "more": ["Fast!", "Slow", "", "", "", ""],
    }
)


def test_good_rows_become_one_answer_event_per_answered_question():
    out = survey_export_to_messages(EXPORT, SURVEY)
    assert (out.rows, out.accepted_rows, out.rejected_rows) == (6, 2, 4)
    first = [m for m in out.messages if m.get("userId") == "u1"]
    assert [m["properties"]["question_id"] for m in first] == ["nps", "csat", "why", "more"]
    assert first[0]["properties"] == {
        "survey_id": "post_order",
        "question_id": "nps",
        "question_type": "nps",
        "score": 9.0,
    }
    assert first[2]["properties"]["answer"] == "Speed"
    assert first[3]["properties"]["text"] == "Fast!"
    assert {m["event"] for m in out.messages} == {"survey_answered"}
    assert first[0]["timestamp"] == "2026-01-02T10:00:00+00:00"


def test_an_email_respondent_is_sent_for_identity_resolution():
    out = survey_export_to_messages(EXPORT, SURVEY)
    by_email = [m for m in out.messages if "userId" not in m]
    assert {m["anonymousId"] for m in by_email} == {"email:b@x.com"}
    assert by_email[0]["context"] == {"traits": {"email": "b@x.com"}}
    assert by_email[0]["timestamp"] == "2026-01-03T09:00:00+00:00"


def test_every_bad_row_is_rejected_with_its_reason_and_column():
    out = survey_export_to_messages(EXPORT, SURVEY)
    got = [(r.row, r.field, r.code) for r in out.rejected]
    assert got == [
        (2, "nps", "BAD_ANSWER"),
        (3, "submitted_at", "BAD_TIMESTAMP"),
        (4, None, "NO_ANSWERS"),
        (5, None, "MISSING_RESPONDENT"),
    ]
    assert "from 0 to 10, got '12'" in out.rejected[0].message


def test_importing_the_same_export_twice_gives_the_same_message_ids():
    first = survey_export_to_messages(EXPORT, SURVEY)
    again = survey_export_to_messages(EXPORT, SURVEY)
    ids = [m["messageId"] for m in first.messages]
    assert ids == [m["messageId"] for m in again.messages]
    assert len(set(ids)) == len(ids)


def test_csv_and_json_lines_files_read_like_a_frame(tmp_path):
    csv_path = tmp_path / "export.csv"
    EXPORT.to_csv(csv_path, index=False)
    jsonl = tmp_path / "export.jsonl"
    rows = EXPORT.to_dict("records")
    jsonl.write_text("\n".join([*map(json.dumps, rows), "not json"]) + "\n")
    frame = survey_export_to_messages(EXPORT, SURVEY)
    from_csv = survey_export_to_messages(csv_path, SURVEY)
    from_jsonl = survey_export_to_messages(jsonl, SURVEY)
    assert from_csv.messages == frame.messages == from_jsonl.messages
    assert from_jsonl.rejected[-1].code == "BAD_JSON"


def test_a_mapping_renames_columns_and_a_response_id_keys_the_messages():
    frame = EXPORT.rename(columns={"nps": "Q1", "user_id": "customer"}).assign(rid="r")
    mapping = SurveyExportMapping(user_id="customer", questions={"nps": "Q1"}, response_id="rid")
    out = survey_export_to_messages(frame.iloc[:1], SURVEY, mapping)
    assert out.messages[0]["properties"]["score"] == 9.0


def test_an_export_that_cannot_be_read_is_refused_as_a_whole(tmp_path):
    with pytest.raises(MappingError, match="lacks columns"):
        survey_export_to_messages(EXPORT.drop(columns="submitted_at"), SURVEY)
    with pytest.raises(MappingError, match="question columns"):
        survey_export_to_messages(EXPORT[["user_id", "email", "submitted_at"]], SURVEY)
    with pytest.raises(MappingError, match="does not have"):
        survey_export_to_messages(EXPORT, SURVEY, {"questions": {"q9": "x"}})
    with pytest.raises(SourceError, match="does not exist"):
        survey_export_to_messages(tmp_path / "missing.csv", SURVEY)
    (tmp_path / "export.xlsx").write_bytes(b"")
    with pytest.raises(UnsupportedFormatError, match="CSV or JSON lines"):
        survey_export_to_messages(tmp_path / "export.xlsx", SURVEY)
    with pytest.raises(pydantic.ValidationError, match="respondent column"):
        SurveyExportMapping(user_id=None, email=None)
