"""``/api/experiments``: assign a unit to an experiment's variant and record the exposure.

The experiment is defined inline in the body (variants with weights, or factors), so the server
keeps no experiment registry: assignment is a pure hash of (salt, unit id), the same on every
server. The call records an "Experiment Viewed" event through ``Workspace.ingest``, so it
writes: it needs a **write** (or admin) key, and a read key is refused with 403.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pydantic
from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from journeylens.activate.assignment import (
    ExperimentDesign,
    Factor,
    VariantWeight,
    assign,
    exposure_message,
)
from journeylens.api.errors import ERROR_RESPONSES
from journeylens.api.keys import ApiKey, require_role
from journeylens.api.state import locked_workspace
from journeylens.errors import SpecError

__all__ = ["router"]

router = APIRouter(prefix="/api/experiments", tags=["experiments"], responses=ERROR_RESPONSES)

#: Recording an exposure writes an event, so reading keys may not call this.
WriteKey = Annotated[ApiKey, Depends(require_role("write", "admin"))]


class AssignRequest(BaseModel):
    """The experiment (inline) and the unit to assign."""

    model_config = ConfigDict(extra="forbid")

    variants: tuple[VariantWeight, ...] = ()
    factors: tuple[Factor, ...] = ()
    design: Literal["full", "fractional"] = "full"
    generators: tuple[str, ...] = ()
    salt: str | None = None
    unit: Literal["device", "person"] = "device"
    user_id: str | None = Field(None, max_length=500)
    anonymous_id: str | None = Field(None, max_length=500)
    timestamp: datetime | None = Field(None, description="When it was seen; default now (UTC)")
    record: bool = Field(True, description="Record the exposure event (false: only assign)")


@router.post("/{experiment_id}/assign", summary="Assign a variant and record the exposure")
def assign_variant(
    experiment_id: str, request: Request, key: WriteKey, body: Annotated[AssignRequest, Body()]
) -> dict[str, Any]:
    """Hash the unit into the experiment's variants and record an "Experiment Viewed" event.

    Returns:
        ``experiment_id``, ``variant``, ``factors`` ({factor: level} for multivariate designs),
        ``unit_id`` (the id hashed), ``recorded`` (whether the exposure was stored now; false
        when ``record`` is false or the same exposure was stored before) and ``message_id``.
    """
    fields = {"variants", "factors", "design", "generators", "salt", "unit"}
    try:
        design = ExperimentDesign.model_validate(
            {"experiment_id": experiment_id, **body.model_dump(include=fields)}
        )
    except pydantic.ValidationError as exc:  # the design's own rules: one JSON error shape
        problems = [
            {"field": ".".join(map(str, e["loc"])), "problem": e["msg"], "received": ""}
            for e in exc.errors()
        ]
        raise SpecError("experiment design", problems) from exc
    chosen = assign(design, user_id=body.user_id, anonymous_id=body.anonymous_id)
    when = body.timestamp or datetime.now(UTC)
    message = exposure_message(
        chosen, user_id=body.user_id, anonymous_id=body.anonymous_id, timestamp=when
    )
    recorded = False
    if body.record:
        with locked_workspace(request) as ws:
            recorded = ws.ingest([message], source_name="experiments").accepted == 1
    return {
        "experiment_id": experiment_id,
        "variant": chosen.variant,
        "factors": chosen.factors,
        "unit_id": chosen.unit_id,
        "recorded": recorded,
        "message_id": message["messageId"],
    }
