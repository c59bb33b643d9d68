"""Per-person scores in the layout of the predictions table (``schema.PREDICTIONS_SCHEMA``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from journeylens.analysis.path_cleaning import json_value
from journeylens.errors import ValidationError
from journeylens.schema import PREDICTIONS_SCHEMA

__all__ = ["prediction_rows"]


def prediction_rows(
    frame: pd.DataFrame,
    *,
    model: str,
    version: str,
    as_of: datetime,
    scored_at: datetime,
    score: str | None = None,
    label: str | None = None,
    rank: str | None = None,
) -> pa.Table:
    """Turn a model's per-person frame into rows of the predictions table.

    ``frame`` has a ``person_id`` column, optionally ``reasons`` (lists of dicts or strings),
    and the columns named by ``score`` (a number), ``label`` (an answer in words) and ``rank``
    (the position in a list, for models that give several rows per person). Every other column
    goes into ``details`` as JSON, so nothing the model said is lost.

    Returns:
        An Arrow table in ``PREDICTIONS_SCHEMA`` layout, one row per row of ``frame``.

    >>> from datetime import UTC
    >>> now = datetime(2024, 3, 1, tzinfo=UTC)
    >>> frame = pd.DataFrame({"person_id": ["p1"], "p_alive": [0.9], "clv": [120.5]})
    >>> rows = prediction_rows(frame, model="clv", version="clv-1", as_of=now, scored_at=now,
    ...                        score="clv")
    >>> rows.column("score").to_pylist(), rows.column("details").to_pylist()
    ([120.5], ['{"p_alive": 0.9}'])
    """
    named = {"score": score, "label": label, "rank": rank}
    missing = [c for c in ["person_id", *(v for v in named.values() if v)] if c not in frame]
    if missing:
        raise ValidationError(
            f"The {model} scores lack columns " + ", ".join(missing),
            received=list(frame.columns),
            fix="Pass the names of columns the frame has",
        )
    n = len(frame)
    used = {"person_id", "reasons", *(v for v in named.values() if v)}
    extra = [c for c in frame.columns if c not in used]
    records = frame[extra].to_dict("records") if extra else [{}] * n
    reasons = frame["reasons"].tolist() if "reasons" in frame else [[]] * n
    columns: dict[str, Any] = {
        "model": [model] * n,
        "model_version": [version] * n,
        "as_of": [as_of] * n,
        "person_id": frame["person_id"].astype("string").tolist(),
        "rank": _column(frame, rank, n),
        "score": _column(frame, score, n),
        "label": [None if v is None else str(v) for v in _column(frame, label, n)],
        "details": [json.dumps(json_value(r)) for r in records],
        "reasons": [json.dumps(json_value(r)) for r in reasons],
        "scored_at": [scored_at] * n,
    }
    return pa.table(columns, schema=PREDICTIONS_SCHEMA.to_pyarrow())


def _column(frame: pd.DataFrame, name: str | None, n: int) -> list[Any]:
    if name is None:
        return [None] * n
    return [json_value(v) for v in frame[name].tolist()]
