"""``/api/surveys``: saved survey definitions and the import of a survey tool's CSV export.

Answers are events: the import turns each good export row into ``survey_answered`` events and
ingests them, and reports every rejected row with its reason.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Body, Query, Request

from journeylens.api.errors import ERROR_RESPONSES
from journeylens.api.keys import AdminKey, ReadKey
from journeylens.api.state import locked_workspace
from journeylens.errors import SourceError

__all__ = ["router"]

router = APIRouter(prefix="/api/surveys", tags=["surveys"], responses=ERROR_RESPONSES)

_MAX_REPORTED = 1000


@router.get("", summary="List saved surveys")
def list_surveys(request: Request, key: ReadKey) -> dict[str, Any]:
    """The saved surveys, sorted by id.

    Returns:
        ``{"surveys": [{"id", "name", "questions": [{"id", "type", "text", "options"}]}]}``.
    """
    with locked_workspace(request) as ws:
        return {"surveys": [s.model_dump(mode="json") for s in ws.surveys()]}


@router.post("", status_code=201, summary="Save a survey")
def save_survey(
    request: Request,
    key: AdminKey,
    body: Annotated[dict[str, Any], Body(description="A survey: id, name, questions")],
) -> dict[str, Any]:
    """Save (or replace) a survey; it is validated now (NPS 0–10, CSAT 1–5, choice options).

    Returns:
        The validated survey: ``id``, ``name``, ``questions``.
    """
    with locked_workspace(request) as ws:
        return ws.save_survey(body).model_dump(mode="json")


@router.get("/{survey_id}", summary="One saved survey")
def get_survey(survey_id: str, request: Request, key: ReadKey) -> dict[str, Any]:
    """The survey saved as ``survey_id``.

    Returns:
        ``id``, ``name``, ``questions``.
    """
    with locked_workspace(request) as ws:
        return ws.survey(survey_id).model_dump(mode="json")


@router.post(
    "/{survey_id}/import",
    summary="Import a survey export (CSV)",
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_export(
    survey_id: str,
    request: Request,
    key: AdminKey,
    user_id: Annotated[str | None, Query(description="Column of the user id")] = "user_id",
    email: Annotated[str | None, Query(description="Column of the email")] = "email",
    submitted_at: Annotated[str, Query(description="Column of the time")] = "submitted_at",
    response_id: Annotated[str | None, Query(description="Column of the response id")] = None,
) -> dict[str, Any]:
    """Ingest the CSV export in the request body (a header row; one column per question,
    named by its question id). An empty query value (``?email=``) means "no such column".

    Returns:
        ``survey_id``, ``rows`` (data rows read), ``accepted_rows``, ``rejected_rows``,
        ``rejected`` (up to 1000 problems: ``row``, ``field``, ``code``, ``message``),
        ``events`` (answer events ingested) and ``duplicates`` (answers already stored).
    """
    frame = _read_csv(await request.body())
    mapping = {
        "user_id": user_id or None,
        "email": email or None,
        "submitted_at": submitted_at,
        "response_id": response_id or None,
    }
    with locked_workspace(request) as ws:
        export, report = ws.import_survey(frame, survey_id, mapping)
    return {
        "survey_id": survey_id,
        "rows": export.rows,
        "accepted_rows": export.accepted_rows,
        "rejected_rows": export.rejected_rows,
        "rejected": [r.to_dict() for r in export.rejected[:_MAX_REPORTED]],
        "events": report.accepted,
        "duplicates": report.duplicates,
    }


def _read_csv(data: bytes) -> pd.DataFrame:
    """The upload as text cells ('' for empty ones): every value is checked by the import."""
    if not data.strip():
        raise SourceError("The request body is empty", fix="Send the CSV export as the body")
    try:
        return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SourceError(
            "The request body is not a readable CSV file",
            received=str(exc)[:200],
            fix="Send UTF-8 CSV with a header row",
        ) from exc
