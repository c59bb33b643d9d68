"""``/api/analyses``: every analysis of the registry behind one generic route.

The route reads the registry, so a new analysis (built in or a plugin) is served with no change
here: its Spec is the request body, its Result's ``to_dict()`` the response. Results are cached
by spec and the workspace's data version (``api.cache``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from journeylens.analysis import analyses, get_analysis
from journeylens.api.errors import ERROR_RESPONSES
from journeylens.api.keys import ReadKey
from journeylens.api.state import locked_workspace

__all__ = ["router"]

router = APIRouter(prefix="/api/analyses", tags=["analyses"], responses=ERROR_RESPONSES)


@router.get("", summary="List the analyses")
def list_analyses(key: ReadKey) -> dict[str, Any]:
    """Every registered analysis with its title, summary, an example spec and the spec's JSON
    schema.

    Returns:
        ``{"analyses": [{"name", "title", "summary", "example", "spec_schema"}]}``.
    """
    return {
        "analyses": [
            {
                "name": a.name,
                "title": a.title,
                "summary": a.summary,
                "example": dict(a.example),
                "spec_schema": a.spec.model_json_schema(),
            }
            for a in analyses()
        ]
    }


@router.post("/{name}", summary="Run an analysis")
def run_analysis(
    name: str,
    request: Request,
    response: Response,
    key: ReadKey,
    spec: Annotated[
        dict[str, Any], Body(description="The analysis's spec (see GET /api/analyses)")
    ],
) -> dict[str, Any]:
    """Run the analysis ``name`` over the workspace's events with ``spec``.

    Returns:
        The result's ``to_dict()`` (its fields are defined by the analysis) plus ``analysis``
        (the name). The header ``X-Cache`` says ``hit`` when the result came from the cache.
    """
    get_analysis(name)  # an unknown name is a 400 listing the known ones, before any work
    with locked_workspace(request) as ws:
        result, cached = request.app.state.cache.run(ws, name, spec)
        body = result.to_dict()
    response.headers["X-Cache"] = "hit" if cached else "miss"
    return body | {"analysis": name}
