"""Health, ingest status, rejected rows and predictions: what the workspace holds.

``/health`` needs no key (load balancers call it); the rest needs a read key.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

import journeylens
from journeylens.api.errors import ERROR_RESPONSES
from journeylens.api.keys import ReadKey
from journeylens.api.state import locked_workspace
from journeylens.api.values import Limit, Offset, json_rows

__all__ = ["router"]

router = APIRouter(responses=ERROR_RESPONSES)


@router.get("/health", tags=["status"], summary="Is the server up?")
def health() -> dict[str, str]:
    """Answers without touching the workspace, so a long analysis never makes it time out.

    Returns:
        ``{"status": "ok", "version"}``.
    """
    return {"status": "ok", "version": journeylens.__version__}


@router.get("/api/ingest", tags=["status"], summary="What the workspace holds")
def ingest_status(request: Request, key: ReadKey) -> dict[str, Any]:
    """Counts of stored rows and the state of the derived tables.

    Returns:
        ``events``, ``quarantine``, ``id_map``, ``merge_log``, ``persons``, ``edge_overrides``,
        ``predictions`` (row counts), ``schema_version``, ``identity`` (the last resolution's
        statistics or null), ``stale`` (events arrived since identities were resolved),
        ``rejected_by_code`` (quarantined rows per code) and ``data_version``.
    """
    with locked_workspace(request) as ws:
        quarantine = ws.quarantine()
        by_code = quarantine.group_by("code").agg(rows=quarantine.count()).to_pyarrow()
        return ws.info() | {
            "rejected_by_code": dict(
                zip(by_code["code"].to_pylist(), by_code["rows"].to_pylist(), strict=True)
            ),
            "data_version": ws.data_version(),
        }


@router.get("/api/ingest/rejected", tags=["status"], summary="Rejected (quarantined) rows")
def rejected_rows(
    request: Request,
    key: ReadKey,
    code: Annotated[str | None, Query(max_length=100, description="Only this code")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Quarantined rows, newest first, with their reason and raw payload.

    Returns:
        ``rows`` (each ``row_key``, ``batch_id``, ``row``, ``field``, ``code``, ``message``,
        ``raw``, ``source``, ``received_at``), ``total`` (rows matching), ``limit``, ``offset``.
    """
    with locked_workspace(request) as ws:
        table = ws.quarantine()
        if code is not None:
            table = table.filter(table.code == code)
        total = int(table.count().execute())
        page = table.order_by([table.received_at.desc(), table.row_key]).limit(limit, offset=offset)
        rows = json_rows(page.to_pyarrow())
    return {"rows": rows, "total": total, "limit": limit, "offset": offset}


@router.get("/api/predictions", tags=["predictions"], summary="Stored prediction scores")
def predictions(
    request: Request,
    key: ReadKey,
    model: Annotated[str | None, Query(max_length=100, description="Only this model")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Per-person scores of the predictive models (``journeylens predict`` stores them), highest
    score first, and a summary per model.

    Returns:
        ``models`` (per model: ``rows``, ``persons``, ``model_version``, ``as_of``,
        ``scored_at``), ``rows`` (each ``model``, ``model_version``, ``as_of``, ``person_id``,
        ``rank``, ``score``, ``label``, ``details`` and ``reasons`` as JSON values,
        ``scored_at``), ``total`` (rows of ``model``, or of every model), ``limit``,
        ``offset``.
    """
    with locked_workspace(request) as ws:
        everything = ws.predictions()
        summary = (
            everything.group_by("model")
            .agg(
                rows=everything.count(),
                persons=everything.person_id.nunique(),
                model_version=everything.model_version.max(),
                as_of=everything.as_of.max(),
                scored_at=everything.scored_at.max(),
            )
            .order_by("model")
            .to_pyarrow()
        )
        table = ws.predictions(model)
        total = int(table.count().execute())
        order = [table.model, table.score.desc(), table.person_id, table.rank]
        rows = json_rows(table.order_by(order).limit(limit, offset=offset).to_pyarrow())
    models = {r.pop("model"): r for r in json_rows(summary)}
    for row in rows:
        for field in ("details", "reasons"):
            row[field] = _json_or_text(row[field])
    return {"models": models, "rows": rows, "total": total, "limit": limit, "offset": offset}


def _json_or_text(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
