"""Saved surveys: kept by id across opens, migrated in, and their exports ingested as events."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pandas as pd
import pytest

import journeylens as jl
from journeylens.errors import SpecError, UnknownNameError
from journeylens.feedback.source import feedback_table
from journeylens.schema import SCHEMA_VERSION

NOW = datetime(2026, 2, 1, tzinfo=UTC)
SURVEY = {
    "id": "nps_q1",
    "name": "NPS Q1",
    "questions": [
        {"id": "nps", "type": "nps", "text": "Would you recommend us?"},
        {"id": "why", "type": "text", "text": "Why?"},
    ],
}


def open_ws(path=None):
    return jl.Workspace.open(path, clock=lambda: NOW)


def test_a_saved_survey_is_read_back_after_reopening(tmp_path):
    with open_ws(tmp_path) as ws:
        ws.save_survey(SURVEY)
        ws.save_survey(SURVEY | {"id": "b", "name": "B"})
    with open_ws(tmp_path) as ws:
        assert [s.id for s in ws.surveys()] == ["b", "nps_q1"]
        assert ws.survey("nps_q1").questions[1].type == "text"


def test_saving_a_survey_under_a_taken_id_replaces_it():
    ws = open_ws()
    ws.save_survey(SURVEY)
    ws.save_survey(SURVEY | {"name": "Renamed"})
    assert [s.name for s in ws.surveys()] == ["Renamed"]


def test_a_deleted_survey_is_gone_and_an_unknown_one_is_named():
    ws = open_ws()
    ws.save_survey(SURVEY)
    ws.delete_survey("nps_q1")
    assert ws.surveys() == []
    with pytest.raises(UnknownNameError, match="Unknown survey 'nps_q1'"):
        ws.delete_survey("nps_q1")


def test_a_bad_survey_is_not_saved():
    ws = open_ws()
    with pytest.raises(SpecError, match="questions"):
        ws.save_survey(SURVEY | {"questions": []})
    assert ws.surveys() == []


def test_an_imported_export_lands_as_feedback_and_bad_rows_are_reported():
    ws = open_ws()
    ws.save_survey(SURVEY)
    export = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "email": [None, None, None],
            "submitted_at": ["2026-01-10T08:00:00Z", "2026-01-11T08:00:00Z", "2026-01-12"],
            "nps": ["10", "4", "eleven"],
            "why": ["Great", None, None],
        }
    )
    read, report = ws.import_survey(export, "nps_q1")
    assert (read.accepted_rows, [r.code for r in read.rejected]) == (2, ["BAD_ANSWER"])
    assert report.accepted == 3
    rows = feedback_table(ws.events()).order_by("timestamp").to_pyarrow().to_pylist()
    assert [(r["question_id"], r["rating"], r["text"]) for r in rows] == [
        ("nps", 10.0, None),
        ("why", None, "Great"),
        ("nps", 4.0, None),
    ]
    _, report = ws.import_survey(export, "nps_q1")
    assert report.duplicates == 3


def test_a_version_4_workspace_gains_the_surveys_table_on_open(tmp_path):
    with open_ws(tmp_path):
        pass
    # Turn the file back into what journeylens wrote at version 4: no surveys table.
    con = duckdb.connect(str(tmp_path / "journeylens.duckdb"))
    con.execute("DROP TABLE surveys")
    con.execute("UPDATE jl_meta SET value = '4' WHERE key = 'schema_version'")
    con.close()
    with open_ws(tmp_path) as ws:
        assert ws.info()["schema_version"] == SCHEMA_VERSION
        ws.save_survey(SURVEY)
        assert [s.id for s in ws.surveys()] == ["nps_q1"]
