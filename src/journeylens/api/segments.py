"""``/api/segments``: saved segments, their members and a CSV export of them.

A segment keeps its definition (a rule, or RFM segment names); members are recomputed from the
events on each read, through the result cache, so they follow the data.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from journeylens.analysis.segments import SegmentResult
from journeylens.api.errors import ERROR_RESPONSES
from journeylens.api.keys import AdminKey, ReadKey
from journeylens.api.state import locked_workspace
from journeylens.api.values import Limit, Offset, json_rows, json_value

if TYPE_CHECKING:
    from journeylens.workspace import Workspace

__all__ = ["cached_members", "router"]

router = APIRouter(prefix="/api/segments", tags=["segments"], responses=ERROR_RESPONSES)

#: Columns of the CSV export, from the persons table.
_EXPORT_COLUMNS = ("person_id", "user_id", "first_seen", "last_seen", "message_count")
#: A cell starting with one of these is a formula to a spreadsheet; a quote in front keeps it
#: text (user ids and traits come from the outside world).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class SegmentRequest(BaseModel):
    """A segment to save."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    analysis: Literal["segment", "rfm"] = "segment"
    spec: dict[str, Any] = Field(description="A SegmentSpec, or an RFMSegmentSpec for rfm")


@router.get("", summary="List saved segments")
def list_segments(request: Request, key: ReadKey) -> dict[str, Any]:
    """The saved segments, sorted by name.

    Returns:
        ``{"segments": [{"name", "analysis", "spec", "saved_at"}]}``.
    """
    with locked_workspace(request) as ws:
        return {"segments": [json_value(s) for s in ws.segments()]}


@router.post("", status_code=201, summary="Save a segment")
def save_segment(
    request: Request, key: AdminKey, body: Annotated[SegmentRequest, Body()]
) -> dict[str, Any]:
    """Save (or replace) the segment ``name``; its spec is validated now.

    Returns:
        ``name``, ``analysis`` and ``spec`` (the validated spec with its defaults).
    """
    with locked_workspace(request) as ws:
        spec = ws.save_segment(body.name, body.spec, analysis=body.analysis)
    return {"name": body.name, "analysis": body.analysis, "spec": spec.model_dump(mode="json")}


@router.delete("/{name}", summary="Delete a saved segment")
def delete_segment(name: str, request: Request, key: AdminKey) -> dict[str, Any]:
    """Forget the segment ``name``.

    Returns:
        ``{"deleted": name}``.
    """
    with locked_workspace(request) as ws:
        ws.delete_segment(name)
    return {"deleted": name}


@router.get("/{name}/members", summary="Members of a segment")
def segment_members(
    name: str, request: Request, key: ReadKey, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    """The segment's members now, a page of their person ids.

    Returns:
        ``name``, ``count`` (members), ``persons`` (everyone seen up to ``as_of``), ``share``
        (count over persons; null with no persons), ``as_of``, ``person_ids`` (this page, sorted),
        ``limit``, ``offset``, ``warnings``.
    """
    members = _members(request, name)
    body = members.to_dict()
    ids = sorted(members.person_ids)
    return (
        body
        | {"name": name, "person_ids": ids[offset : offset + limit], "limit": limit}
        | {"offset": offset}
    )


@router.get(
    "/{name}/export",
    summary="Members of a segment as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per member"}},
)
def export_segment(name: str, request: Request, key: ReadKey) -> Response:
    """Every member with ``person_id``, ``user_id``, ``first_seen``, ``last_seen`` and
    ``message_count``, as CSV with a header row."""
    members = _members(request, name)
    with locked_workspace(request) as ws:
        persons = ws.persons().select(*_EXPORT_COLUMNS).to_pyarrow()
    wanted = pa.array(sorted(members.person_ids), pa.string())
    rows = json_rows(persons.filter(pc.is_in(persons["person_id"], value_set=wanted)))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_EXPORT_COLUMNS)
    for row in sorted(rows, key=lambda r: r["person_id"]):
        writer.writerow([_cell(row[c]) for c in _EXPORT_COLUMNS])
    filename = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:80]
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="segment-{filename}.csv"'},
    )


def _members(request: Request, name: str) -> SegmentResult:
    with locked_workspace(request) as ws:
        return cached_members(request, ws, name)


def cached_members(request: Request, ws: Workspace, name: str) -> SegmentResult:
    """The members of the saved segment ``name`` from the server's result cache; the caller
    holds the workspace lock.

    Returns:
        ``Workspace.segment_members(name)``, computed once per definition and data version.
    """
    ws.events()  # brings the derived tables, and so the data version, up to date
    key = ("segment-members", name, repr(_definition(ws, name)), ws.data_version())
    result, _ = request.app.state.cache.get_or_compute(key, lambda: ws.segment_members(name))
    return result


def _definition(ws: Workspace, name: str) -> Any:
    """The saved definition of ``name`` (None if there is none: ``segment_members`` then says
    which segments exist)."""
    return next((s for s in ws.segments() if s["name"] == name), None)


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
