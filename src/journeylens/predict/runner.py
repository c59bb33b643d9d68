"""Train a predictive model into a workspace folder, or score with it into prediction rows.

The workspace's events come in as an Ibis table and its folder as a path, so this module needs
nothing of the store; the caller writes the rows with ``Workspace.save_predictions``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import ibis
import pyarrow as pa

from journeylens.errors import ValidationError
from journeylens.predict.persistence import ModelCard, load_model, model_card, save_model
from journeylens.predict.predictors import get_predictor
from journeylens.predict.scores import prediction_rows

__all__ = ["default_as_of", "score_model", "train_model"]


def default_as_of(events: ibis.Table) -> datetime:
    """Just after the latest event, so that every event is history (events at or after a
    cut-off are invisible to the models)."""
    latest = events.timestamp.max().execute()
    if latest is None or latest != latest:  # no events (None or NaT)
        raise ValidationError(
            "There are no events to train or score on",
            fix="Import events first: journeylens import FILE -w PATH",
        )
    moment = latest.to_pydatetime() if hasattr(latest, "to_pydatetime") else latest
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment + timedelta(microseconds=1)


def train_model(
    name: str,
    events: ibis.Table,
    folder: Path,
    *,
    as_of: datetime | None = None,
    trained_at: datetime | None = None,
) -> ModelCard:
    """Train the model ``name`` on the events before ``as_of`` (default: all of them) and save
    it in ``folder/models``.

    Returns:
        The saved model's card (version, features, metrics, …).
    """
    predictor = get_predictor(name)
    if predictor.train is None:
        raise ValidationError(
            f"The {name} model has nothing to train: it is computed from the events when scored",
            fix=f"Score it directly: journeylens predict {name}",
        )
    as_of = as_of or default_as_of(events)
    trained = predictor.train(events, as_of)
    card = model_card(
        name,
        events=events,
        as_of=as_of,
        features=trained.features,
        settings=trained.settings,
        metrics=trained.metrics,
        trained_at=trained_at,
    )
    save_model(folder, trained.model, card)
    return card


def score_model(
    name: str,
    events: ibis.Table,
    folder: Path | None,
    *,
    as_of: datetime | None = None,
    scored_at: datetime | None = None,
) -> tuple[pa.Table, str]:
    """Score every person with the model ``name`` as of ``as_of`` (default: after the latest
    event). A trained model is loaded from ``folder/models`` and checked against the events.

    Returns:
        ``(rows, version)``: prediction rows (``schema.PREDICTIONS_SCHEMA``) and the version
        of the model that made them.
    """
    predictor = get_predictor(name)
    as_of = as_of or default_as_of(events)
    model = None
    if predictor.train is not None:
        if folder is None:
            raise ValidationError(
                f"The {name} model is loaded from the workspace folder; this workspace has none",
                fix="Open the workspace from a folder (Workspace.open(path))",
            )
        model, card = load_model(folder, name, events=events)
        version = card.version
    else:
        version = f"{name}-{as_of:%Y%m%d}"
    frame = predictor.score(model, events, as_of)
    rows = prediction_rows(
        frame,
        model=name,
        version=version,
        as_of=as_of,
        scored_at=scored_at or datetime.now(UTC),
        score=predictor.score_col,
        label=predictor.label_col,
        rank=predictor.rank_col,
    )
    return rows, version
