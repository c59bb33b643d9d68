"""Saved survey definitions (schema version 5).

A survey is a handful of questions, saved as its JSON definition under its id; the answers are
ordinary events in ``events`` and are never copied here. The table is small, so a save or a
delete rewrites it whole, which every backend can do.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import ibis
import ibis.expr.datatypes as dt

if TYPE_CHECKING:
    from journeylens.store.catalog import Catalog

__all__ = ["SURVEYS_SCHEMA", "delete_survey", "save_survey", "saved_surveys"]

#: One row per survey: its id, its display name and its whole definition as JSON text.
SURVEYS_SCHEMA: Final = ibis.schema(
    {
        "survey_id": dt.String(nullable=False),
        "name": dt.string,
        "definition": dt.string,
        "saved_at": dt.Timestamp("UTC"),
    }
)


def saved_surveys(catalog: Catalog) -> list[dict[str, Any]]:
    """Every saved survey as ``{survey_id, name, definition, saved_at}``, sorted by id."""
    return sorted(catalog.rows("surveys"), key=lambda row: row["survey_id"])


def save_survey(
    catalog: Catalog, survey_id: str, name: str, definition: str, saved_at: datetime
) -> None:
    """Store a survey under ``survey_id``, replacing one saved under the same id."""
    rows = [r for r in saved_surveys(catalog) if r["survey_id"] != survey_id]
    rows.append(
        {"survey_id": survey_id, "name": name, "definition": definition, "saved_at": saved_at}
    )
    catalog.rewrite("surveys", rows, SURVEYS_SCHEMA)


def delete_survey(catalog: Catalog, survey_id: str) -> None:
    """Forget the survey saved under ``survey_id`` (nothing happens if there is none)."""
    rows = [r for r in saved_surveys(catalog) if r["survey_id"] != survey_id]
    catalog.rewrite("surveys", rows, SURVEYS_SCHEMA)
