"""Trained models on disk, each with the card that says what it was trained on.

A model is saved as ``<workspace>/models/<kind>.joblib``: the fitted estimator and its
:class:`ModelCard` (the features it reads, the columns and types of the events it was trained on,
a fingerprint of those events, the training settings, metrics and library versions). Loading
checks the card against the events it is about to score, so a model trained on another schema
fails with a message that says what changed instead of scoring nonsense. The files are pickles
(joblib): load only models your own workspace trained.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import ibis
import joblib

from journeylens.errors import ModelError

__all__ = [
    "MODEL_FORMAT",
    "ModelCard",
    "check_features",
    "data_fingerprint",
    "load_model",
    "model_card",
    "model_path",
    "save_model",
]

#: Bumped when the file layout changes; older files are refused with a retrain hint.
MODEL_FORMAT: Final = 1
_LIBRARIES: Final = ("journeylens", "numpy", "scikit-learn", "lightgbm", "scipy", "pandas")


@dataclass(frozen=True)
class ModelCard:
    """What a trained model is and what it was trained on.

    Attributes:
        kind: The model's name (``churn``, ``conversion``, ``clv``, …).
        version: ``<kind>-<as_of date>-<fingerprint>``, stored with every prediction it makes.
        trained_at: When training ran (UTC).
        as_of: The cut-off the training data ended at (UTC); nothing later was read.
        features: The feature names the model reads, in order.
        events_columns: Column name → Ibis type of the events table it was trained on.
        data_fingerprint: A hash of the count, time span and persons of those events.
        settings: The training parameters (horizon, …), JSON values.
        metrics: Evaluation figures from training (AUC, …).
        libraries: Versions of journeylens and the libraries the model depends on.
    """

    kind: str
    version: str
    trained_at: datetime
    as_of: datetime
    features: tuple[str, ...]
    events_columns: dict[str, str]
    data_fingerprint: str
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON values (datetimes as ISO-8601 text)."""
        out = dataclasses.asdict(self)
        out["trained_at"] = self.trained_at.isoformat()
        out["as_of"] = self.as_of.isoformat()
        out["features"] = list(self.features)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelCard:
        """The card :meth:`to_dict` wrote."""
        return cls(
            **values
            | {
                "trained_at": datetime.fromisoformat(values["trained_at"]),
                "as_of": datetime.fromisoformat(values["as_of"]),
                "features": tuple(values["features"]),
            }
        )


def data_fingerprint(events: ibis.Table, as_of: datetime) -> str:
    """A short hash of the events before ``as_of``: their count, first and last timestamp and
    number of persons. Two trainings on the same data share it.

    >>> import pandas as pd
    >>> ev = ibis.memtable({"person_id": ["a", "b"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True)})
    >>> len(data_fingerprint(ev, datetime(2024, 2, 1, tzinfo=UTC)))
    16
    """
    seen = events.filter(events.timestamp < as_of)
    summary = seen.aggregate(
        n=seen.count(),
        first=seen.timestamp.min().cast("string"),
        last=seen.timestamp.max().cast("string"),
        persons=seen.person_id.nunique(),
    )
    values = summary.to_pyarrow().to_pylist()[0]
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def model_card(
    kind: str,
    *,
    events: ibis.Table,
    as_of: datetime,
    features: tuple[str, ...] | list[str],
    settings: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    trained_at: datetime | None = None,
) -> ModelCard:
    """The card of a model of ``kind`` trained on ``events`` before ``as_of``."""
    fingerprint = data_fingerprint(events, as_of)
    return ModelCard(
        kind=kind,
        version=f"{kind}-{as_of:%Y%m%d}-{fingerprint[:8]}",
        trained_at=trained_at or datetime.now(UTC),
        as_of=as_of,
        features=tuple(features),
        events_columns={name: str(dtype) for name, dtype in events.schema().items()},
        data_fingerprint=fingerprint,
        settings=dict(settings or {}),
        metrics=dict(metrics or {}),
        libraries=_library_versions(),
    )


def model_path(folder: Path, kind: str) -> Path:
    """Where the model of ``kind`` lives in the workspace ``folder``."""
    return Path(folder) / "models" / f"{kind}.joblib"


def save_model(folder: Path, model: Any, card: ModelCard) -> Path:
    """Write ``model`` and its card to the workspace ``folder`` (replacing an older one of the
    same kind only once the new file is complete).

    Returns:
        The path written.
    """
    path = model_path(folder, card.kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    joblib.dump({"format": MODEL_FORMAT, "card": card.to_dict(), "model": model}, partial)
    os.replace(partial, path)
    return path


def load_model(
    folder: Path, kind: str, *, events: ibis.Table | None = None
) -> tuple[Any, ModelCard]:
    """The model of ``kind`` saved in the workspace ``folder``, and its card.

    With ``events``, the columns the model was trained on must be there with the same types.

    Returns:
        ``(model, card)``.

    Raises:
        ModelError: no such model, an unreadable or outdated file, or events of another schema.
    """
    path = model_path(folder, kind)
    retrain = f"Train it again: journeylens train {kind} -w {folder}"
    if not path.exists():
        raise ModelError(f"No trained {kind} model in {path.parent}", fix=retrain)
    try:
        saved = joblib.load(path)
        if saved.get("format") != MODEL_FORMAT:
            raise ModelError(
                f"The {kind} model file has format {saved.get('format')!r}; this journeylens "
                f"reads format {MODEL_FORMAT}",
                received=str(path),
                fix=retrain,
            )
        card = ModelCard.from_dict(saved["card"])
    except ModelError:
        raise
    except Exception as exc:  # a truncated or foreign file: say so rather than a pickle trace
        raise ModelError(
            f"The {kind} model file cannot be read ({type(exc).__name__})",
            received=str(path),
            fix=retrain,
        ) from exc
    if events is not None:
        _check_schema(card, events, retrain)
    return saved["model"], card


def check_features(card: ModelCard, columns: list[str] | tuple[str, ...]) -> None:
    """Refuse to score feature rows whose columns are not the ones the model was trained on."""
    missing = [c for c in card.features if c not in columns]
    if missing:
        raise ModelError(
            f"The {card.kind} model reads features the data does not give: " + ", ".join(missing),
            received=list(columns),
            fix=f"Train it again: journeylens train {card.kind}",
        )


def _check_schema(card: ModelCard, events: ibis.Table, retrain: str) -> None:
    now = {name: str(dtype) for name, dtype in events.schema().items()}
    missing = [c for c in card.events_columns if c not in now]
    changed = [
        f"{c} ({card.events_columns[c]} -> {now[c]})"
        for c in card.events_columns
        if c in now and now[c] != card.events_columns[c]
    ]
    if missing or changed:
        parts = (["missing " + ", ".join(missing)] if missing else []) + (
            ["changed " + ", ".join(changed)] if changed else []
        )
        raise ModelError(
            f"The {card.kind} model was trained on events of another schema: " + "; ".join(parts),
            received=sorted(now),
            fix=retrain,
        )


def _library_versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
