"""Stored predictions: one model's rows replaced at a time, checked against the table layout."""

from __future__ import annotations

import pyarrow as pa

from journeylens.errors import ValidationError
from journeylens.schema import PREDICTIONS_SCHEMA
from journeylens.store.catalog import Catalog

__all__ = ["store_predictions"]


def store_predictions(catalog: Catalog, model: str, rows: pa.Table) -> int:
    """Make ``rows`` the stored predictions of ``model`` (see ``Workspace.save_predictions``).

    Returns:
        The number of rows stored. Rows lacking a column of ``schema.PREDICTIONS_SCHEMA``, or
        naming another model, raise ``ValidationError`` and nothing is stored.
    """
    missing = [c for c in PREDICTIONS_SCHEMA.names if c not in rows.column_names]
    if missing:
        raise ValidationError(
            "Prediction rows lack columns " + ", ".join(missing),
            received=rows.column_names,
            allowed=", ".join(PREDICTIONS_SCHEMA.names),
            fix="Build the rows with journeylens.predict.prediction_rows",
        )
    others = sorted(set(rows.column("model").to_pylist()) - {model})
    if others:
        raise ValidationError(
            f"Prediction rows for {model!r} also name other models",
            received=others,
            fix="Save each model's rows separately",
        )
    rows = rows.select(PREDICTIONS_SCHEMA.names).cast(PREDICTIONS_SCHEMA.to_pyarrow())
    catalog.replace_predictions(model, rows)
    return rows.num_rows
