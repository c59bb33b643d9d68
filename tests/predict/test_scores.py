"""Model frames become prediction rows without losing what the model said."""

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

import journeylens as jl
from journeylens.errors import ValidationError
from journeylens.predict.scores import prediction_rows

NOW = datetime(2024, 3, 1, tzinfo=UTC)


def test_score_label_rank_reasons_and_details_land_in_their_columns():
    frame = pd.DataFrame(
        {
            "person_id": ["p1", "p1", "p2"],
            "rank": np.array([1, 2, 1], dtype=np.int64),
            "product_id": ["sku-1", "sku-2", "sku-3"],
            "score": [0.5, np.nan, np.float32(0.25)],
            "reason": ["viewed", "bought together", "popular"],
            "reasons": [[{"feature": "views", "value": np.int64(3)}], [], ["popular"]],
        }
    )
    rows = prediction_rows(
        frame,
        model="recommendations",
        version="r-1",
        as_of=NOW,
        scored_at=NOW,
        score="score",
        label="product_id",
        rank="rank",
    ).to_pylist()
    assert [(r["person_id"], r["rank"], r["label"], r["score"]) for r in rows] == [
        ("p1", 1, "sku-1", 0.5),
        ("p1", 2, "sku-2", None),
        ("p2", 1, "sku-3", 0.25),
    ]
    assert json.loads(rows[0]["reasons"]) == [{"feature": "views", "value": 3}]
    assert json.loads(rows[1]["details"]) == {"reason": "bought together"}
    assert {r["model"] for r in rows} == {"recommendations"}


def test_rows_round_trip_through_the_workspace():
    frame = pd.DataFrame({"person_id": ["p1"], "score": [0.9], "seen": [pd.Timestamp(NOW)]})
    rows = prediction_rows(frame, model="churn", version="c-1", as_of=NOW, scored_at=NOW)
    ws = jl.Workspace.open()
    ws.save_predictions("churn", rows)
    stored = ws.predictions("churn").to_pyarrow().to_pylist()[0]
    assert stored["score"] is None  # no score column was named
    assert json.loads(stored["details"]) == {"score": 0.9, "seen": "2024-03-01T00:00:00+00:00"}


def test_naming_a_column_the_frame_lacks_is_an_error():
    frame = pd.DataFrame({"person_id": ["p1"], "p": [0.1]})
    with pytest.raises(ValidationError, match="lack columns score"):
        prediction_rows(frame, model="churn", version="c", as_of=NOW, scored_at=NOW, score="score")
    with pytest.raises(ValidationError, match="lack columns person_id"):
        prediction_rows(
            frame.drop(columns="person_id"), model="c", version="c", as_of=NOW, scored_at=NOW
        )
