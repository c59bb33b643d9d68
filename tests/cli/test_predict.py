"""`journeylens train` and `journeylens predict`: models saved with their card, scores kept."""

from __future__ import annotations

import json

import joblib
import pytest
from typer.testing import CliRunner

import journeylens as jl
from journeylens.cli.main import app
from journeylens.predict import PREDICTORS

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def said(result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    # 100 days: a churn model needs two 30-day horizons plus 30 days of activity before them.
    path = tmp_path_factory.mktemp("predict") / "ws"
    result = run(
        "demo", "-w", path, "--customers", 600, "--days", 100, "--seed", 3, "--json", "--no-serve"
    )
    assert result.exit_code == 0, result.output
    return path


def test_predict_before_training_scores_the_computed_models_and_says_what_to_train(ws):
    result = run("predict", "-w", ws, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out["models"]) == {"recommendations", "send_time", "channel"}
    assert out["skipped"]["churn"] == "not trained yet (journeylens train churn)"


def test_train_then_predict_stores_every_models_scores_with_its_version(ws):
    trained = run("train", "-w", ws, "--json")
    assert trained.exit_code == 0, trained.output
    cards = json.loads(trained.stdout)["models"]
    assert set(cards) == {"churn", "conversion", "clv"}
    assert 0.5 < cards["churn"]["metrics"]["auc"] <= 1
    assert set(cards["clv"]["metrics"]["beta_geo"]) == {"r", "alpha", "a", "b"}
    assert (ws / "models" / "churn.joblib").exists()

    scored = run("predict", "-w", ws, "--json")
    assert scored.exit_code == 0, scored.output
    out = json.loads(scored.stdout)
    assert set(out["models"]) == set(PREDICTORS)
    assert out["skipped"] == {}
    assert out["models"]["churn"]["version"] == cards["churn"]["version"]
    with jl.Workspace.open(ws) as workspace:
        stored = workspace.predictions().to_pandas()
    churn = stored[stored.model == "churn"]
    assert len(churn) == out["models"]["churn"]["rows"] > 0
    assert churn.score.between(0, 1).all()
    assert all(json.loads(r)[0]["feature"] for r in churn.reasons)
    recs = stored[stored.model == "recommendations"]
    assert set(recs["rank"]) == set(range(1, 11))
    assert recs.label.notna().all()


def test_a_model_trained_on_another_schema_is_refused_with_a_retrain_hint(ws):
    assert run("train", "clv", "-w", ws, "--json").exit_code == 0
    # As if trained by a journeylens whose events had another column and another type.
    path = ws / "models" / "clv.joblib"
    saved = joblib.load(path)
    columns = saved["card"]["events_columns"]
    saved["card"]["events_columns"] = columns | {"loyalty_tier": "string", "revenue": "int64"}
    joblib.dump(saved, path)
    result = run("predict", "clv", "-w", ws)
    assert result.exit_code == 1
    assert "MODEL_ERROR" in result.output
    assert "missing loyalty_tier; changed revenue (int64 -> float64)" in said(result)
    assert "journeylens train clv" in result.output
    assert run("train", "clv", "-w", ws, "--json").exit_code == 0
    assert run("predict", "clv", "-w", ws, "--json").exit_code == 0


def test_bad_model_names_and_cut_offs_are_refused(ws, tmp_path):
    unknown = run("predict", "chrun", "-w", ws)
    assert unknown.exit_code == 1
    assert "Did you mean 'churn'" in unknown.output
    nothing = run("train", "send_time", "-w", ws)
    assert nothing.exit_code == 1
    assert "journeylens predict send_time" in nothing.output
    assert run("train", "-w", ws, "--as-of", "yesterday").exit_code == 2
    early = run("train", "churn", "-w", ws, "--as-of", "2020-01-01")
    assert early.exit_code == 1
    assert "Not enough history to train a churn model" in said(early)
    missing = run("predict", "-w", tmp_path / "none")
    assert missing.exit_code == 1
    assert "No workspace" in missing.output
