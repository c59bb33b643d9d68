"""Saved models carry their card; loading refuses files and data it cannot trust."""

from datetime import UTC, datetime

import ibis
import joblib
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from journeylens.errors import ModelError
from journeylens.predict.persistence import (
    check_features,
    data_fingerprint,
    load_model,
    model_card,
    model_path,
    save_model,
)

AS_OF = datetime(2024, 2, 1, tzinfo=UTC)


def events(n: int = 3) -> ibis.Table:
    return ibis.memtable(
        {
            "person_id": [f"p{i % 2}" for i in range(n)],
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC"),
            "event": ["Order Completed"] * n,
        }
    )


def fitted() -> LogisticRegression:
    return LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


def test_a_saved_model_loads_back_with_its_card(tmp_path):
    card = model_card(
        "churn",
        events=events(),
        as_of=AS_OF,
        features=["recency_days"],
        settings={"horizon": "30d"},
        metrics={"auc": 0.8},
    )
    path = save_model(tmp_path, fitted(), card)
    assert path == model_path(tmp_path, "churn") == tmp_path / "models" / "churn.joblib"
    model, loaded = load_model(tmp_path, "churn", events=events())
    assert loaded == card
    assert model.predict([[3.0]]).tolist() == [1]
    assert card.version.startswith("churn-20240201-")
    assert {"journeylens", "scikit-learn", "numpy"} <= set(card.libraries)
    assert card.to_dict()["as_of"] == "2024-02-01T00:00:00+00:00"


def test_the_fingerprint_changes_with_the_data_and_ignores_later_events():
    before = data_fingerprint(events(3), AS_OF)
    assert data_fingerprint(events(4), AS_OF) != before
    assert data_fingerprint(events(4), datetime(2024, 1, 4, tzinfo=UTC)) == before


def test_a_missing_model_says_how_to_train_it(tmp_path):
    with pytest.raises(ModelError, match="No trained churn model") as caught:
        load_model(tmp_path, "churn")
    assert "journeylens train churn" in caught.value.fix


def test_an_unreadable_or_outdated_file_is_refused(tmp_path):
    path = model_path(tmp_path, "churn")
    path.parent.mkdir()
    path.write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="cannot be read"):
        load_model(tmp_path, "churn")
    joblib.dump({"format": 0, "card": {}, "model": None}, path)
    with pytest.raises(ModelError, match="format 0"):
        load_model(tmp_path, "churn")


def test_a_model_trained_on_another_schema_fails_with_what_changed(tmp_path):
    card = model_card("churn", events=events(), as_of=AS_OF, features=["recency_days"])
    save_model(tmp_path, fitted(), card)
    renamed = events().rename(name="event")
    with pytest.raises(ModelError, match="missing event") as caught:
        load_model(tmp_path, "churn", events=renamed)
    assert "train churn" in caught.value.fix
    retyped = events().mutate(person_id=ibis.literal(1))
    with pytest.raises(ModelError, match=r"changed person_id \(string -> int8\)"):
        load_model(tmp_path, "churn", events=retyped)


def test_features_the_model_reads_must_all_be_there():
    card = model_card("churn", events=events(), as_of=AS_OF, features=["a", "b"])
    check_features(card, ["b", "a", "c"])
    with pytest.raises(ModelError, match="does not give: b"):
        check_features(card, ["a"])
