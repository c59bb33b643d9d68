"""``/api/journeys``: publish journeys, read their live counts, pause them; and the runner.

``lifespan`` starts the journey runner on a background thread when the server starts (unless
``app.state.run_journeys`` is False: ``journeylens serve --no-journeys``). It ticks every
second under the server's workspace lock, so it takes turns with requests and the collector's
drain; an error in one tick is logged and the next tick redoes it (nothing was committed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Request

from journeylens.activate.journey import parse_journey
from journeylens.activate.publish import list_journeys, pause_journey, publish_journey
from journeylens.activate.report import journey_report
from journeylens.activate.runner import run_loop
from journeylens.api.errors import ERROR_RESPONSES
from journeylens.api.keys import AdminKey, ReadKey
from journeylens.api.state import locked_workspace

__all__ = ["lifespan", "router"]

_log = logging.getLogger("journeylens.journeys")

router = APIRouter(prefix="/api/journeys", tags=["journeys"], responses=ERROR_RESPONSES)


@router.get("", summary="List published journeys")
def journeys(request: Request, key: ReadKey) -> dict[str, Any]:
    """Every published journey.

    Returns:
        ``{"journeys": [{"journey_id", "name", "version", "status", "priority",
        "published_at", "versions"}]}``.
    """
    with locked_workspace(request) as ws:
        return {"journeys": list_journeys(ws)}


@router.post("", status_code=201, summary="Publish a journey (a new version)")
def publish(
    request: Request,
    key: AdminKey,
    body: Annotated[
        dict[str, Any], Body(description="A journey definition (the YAML file's fields)")
    ],
) -> dict[str, Any]:
    """Validate the journey and make it the live version of its id; instances already running
    stay on their version.

    Returns:
        ``journey_id``, ``version`` (content hash), ``created`` (False: this exact definition
        was published before) and ``status``.
    """
    journey = parse_journey(body)
    with locked_workspace(request) as ws:
        return publish_journey(ws, journey)


@router.get("/{journey_id}", summary="A journey's live counts and lift")
def status(journey_id: str, request: Request, key: ReadKey) -> dict[str, Any]:
    """Per-node counts, sends, engagement, and the goal lift against the holdout.

    Returns:
        The fields of ``JourneyReport``: ``journey_id``, ``name``, ``version``, ``status``,
        ``nodes`` (``entered``, ``waiting``, ``exited``, ``sent``, ``pending``, ``failed``,
        ``opens``, ``clicks`` per node), ``edges``, ``groups`` (``instances``, ``live``,
        ``converted``, ``rate`` = converted ÷ instances per group), ``lift`` and ``warnings``.
    """
    with locked_workspace(request) as ws:
        return journey_report(ws, journey_id).to_dict()


@router.post("/{journey_id}/pause", summary="Pause a journey")
def pause(journey_id: str, request: Request, key: AdminKey) -> dict[str, Any]:
    """Stop entries, timers and sends of the journey until it is resumed.

    Returns:
        ``journey_id`` and ``status`` (``paused``).
    """
    with locked_workspace(request) as ws:
        return pause_journey(ws, journey_id)


@router.post("/{journey_id}/resume", summary="Resume a paused journey")
def resume(journey_id: str, request: Request, key: AdminKey) -> dict[str, Any]:
    """Let the journey take entries and send again; due timers and sends catch up.

    Returns:
        ``journey_id`` and ``status`` (``live``).
    """
    with locked_workspace(request) as ws:
        return pause_journey(ws, journey_id, paused=False)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the journey runner on a background thread while the server runs (unless
    ``app.state.run_journeys`` is False or the workspace is not on DuckDB)."""
    ws = app.state.workspace
    if not getattr(app.state, "run_journeys", True) or ws.backend.name != "duckdb":
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(
        target=run_loop,
        args=(ws, stop),
        kwargs={"lock": app.state.lock, "on_error": _logged},
        name="journeylens-journeys",
        daemon=True,
    )
    thread.start()
    app.state.journey_runner = thread
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def _logged(exc: Exception) -> None:
    _log.error("journey runner tick failed: %s", exc, exc_info=exc)
