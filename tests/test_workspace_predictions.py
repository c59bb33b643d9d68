"""The predictions table: one model's scores replace its earlier ones and no other model's."""

from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest

import journeylens as jl
from journeylens.errors import ValidationError
from journeylens.schema import PREDICTIONS_SCHEMA, SCHEMA_VERSION

AS_OF = datetime(2024, 3, 1, tzinfo=UTC)


def rows(model: str, people: dict[str, float]) -> pa.Table:
    n = len(people)
    return pa.table(
        {
            "model": [model] * n,
            "model_version": ["v1"] * n,
            "as_of": [AS_OF] * n,
            "person_id": list(people),
            "rank": [None] * n,
            "score": list(people.values()),
            "label": [None] * n,
            "details": ["{}"] * n,
            "reasons": ["[]"] * n,
            "scored_at": [AS_OF] * n,
        }
    )


def stored(ws: jl.Workspace, model: str | None = None) -> dict[tuple[str, str], float]:
    frame = ws.predictions(model).to_pyarrow().to_pylist()
    return {(r["model"], r["person_id"]): r["score"] for r in frame}


def test_a_new_scoring_run_replaces_that_model_and_keeps_the_others():
    ws = jl.Workspace.open()
    assert ws.save_predictions("churn", rows("churn", {"p1": 0.9, "p2": 0.1})) == 2
    ws.save_predictions("clv", rows("clv", {"p1": 120.0}))
    ws.save_predictions("churn", rows("churn", {"p3": 0.5}))
    assert stored(ws) == {("churn", "p3"): 0.5, ("clv", "p1"): 120.0}
    assert stored(ws, "clv") == {("clv", "p1"): 120.0}
    assert ws.info()["predictions"] == 2


def test_prediction_rows_without_the_columns_are_refused_and_nothing_is_lost():
    ws = jl.Workspace.open()
    ws.save_predictions("churn", rows("churn", {"p1": 0.9}))
    with pytest.raises(ValidationError, match="lack columns score") as caught:
        ws.save_predictions("churn", rows("churn", {"p2": 0.2}).drop_columns(["score"]))
    assert "prediction_rows" in caught.value.fix
    with pytest.raises(ValidationError, match="also name other models"):
        ws.save_predictions("churn", rows("clv", {"p2": 0.2}))
    assert stored(ws) == {("churn", "p1"): 0.9}


def test_a_version_2_workspace_gains_the_predictions_table_on_open(tmp_path):
    with jl.Workspace.open(tmp_path) as ws:
        assert ws.folder == tmp_path
    con = duckdb.connect(str(tmp_path / "journeylens.duckdb"))
    con.execute("DROP TABLE predictions")
    con.execute("UPDATE jl_meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    with jl.Workspace.open(tmp_path) as ws:
        assert ws.info()["schema_version"] == SCHEMA_VERSION
        ws.save_predictions("churn", rows("churn", {"p1": 0.9}))
        assert ws.predictions().schema().names == PREDICTIONS_SCHEMA.names


def test_a_workspace_opened_by_its_database_file_lives_in_that_files_folder(tmp_path):
    with jl.Workspace.open(tmp_path / "shop.duckdb") as ws:
        assert ws.folder == tmp_path
    assert jl.Workspace.open().folder is None
