"""``/api/persons``: customer 360 (profile, timeline) and the GDPR routes (export, erase).

The routes only parse and serialise; the queries live in ``journeylens.profiles`` and the
erasure in ``journeylens.privacy``, both behind ``Workspace``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from journeylens.api.errors import ERROR_RESPONSES
from journeylens.api.keys import AdminKey, ReadKey
from journeylens.api.segments import cached_members
from journeylens.api.state import locked_workspace
from journeylens.api.values import json_value

__all__ = ["router"]

router = APIRouter(prefix="/api/persons", tags=["persons"], responses=ERROR_RESPONSES)

PersonId = Annotated[str, Path(min_length=1, max_length=200, description="A person_id")]


@router.get("/{person_id}", summary="A person's profile")
def person(person_id: PersonId, request: Request, key: ReadKey) -> dict[str, Any]:
    """Traits, identifiers, segments and prediction scores with their reasons.

    Returns:
        ``person_id``, ``user_id``, ``traits``, ``first_seen``, ``last_seen``,
        ``identifier_count``, ``message_count``, ``identifiers`` (``id_type``, ``id_value``),
        ``scores`` (per model: ``model``, ``model_version``, ``as_of``, ``rank``, ``score``,
        ``label``, ``details``, ``reasons``, ``scored_at``) and ``segments`` (names).
    """
    with locked_workspace(request) as ws:
        profile = ws.person(person_id, members=lambda name: cached_members(request, ws, name))
    return json_value(profile)


@router.get("/{person_id}/timeline", summary="A person's events on every channel")
def timeline(
    person_id: PersonId,
    request: Request,
    key: ReadKey,
    cursor: Annotated[str | None, Query(max_length=500, description="next_cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Events per page")] = 50,
) -> dict[str, Any]:
    """A page of the person's events, newest first.

    Returns:
        ``person_id``, ``events`` (each ``message_id``, ``timestamp``, ``type``, ``event``,
        ``channel``, ``stage``, ``session_id``, ``source``, ``revenue``, ``currency``,
        ``properties``, ``context``) and ``next_cursor`` (null on the last page).
    """
    with locked_workspace(request) as ws:
        return json_value(ws.person_timeline(person_id, cursor=cursor, limit=limit))


@router.get("/{person_id}/export", summary="Everything held about a person (GDPR access)")
def export(person_id: PersonId, request: Request, key: AdminKey) -> dict[str, Any]:
    """All of the person's data: profile, every event, identity decisions, rejected rows.

    Returns:
        ``person`` (the profile), ``events``, ``merge_log``, ``quarantine``, ``exported_at``.
    """
    with locked_workspace(request) as ws:
        return json_value(ws.export_person(person_id))


@router.delete("/{person_id}", summary="Erase a person (GDPR erasure)")
def erase(person_id: PersonId, request: Request, key: AdminKey) -> dict[str, Any]:
    """Erase the person everywhere and suppress their identifiers, so later or replayed
    events cannot bring them back. Cached results are dropped.

    Returns:
        ``person_id``; ``events``, ``predictions``, ``quarantine``: rows deleted;
        ``identifiers``: identifiers suppressed; ``models``: trained model files kept (they
        are aggregates) and why; ``summary``: what was erased where, as sentences.
    """
    state = request.app.state
    with locked_workspace(request) as ws:
        erased = ws.erase_person(person_id)
        # The data version moved, so no cached result would be served again; dropping them
        # now also frees the memory holding the person's rows (pages list person ids).
        state.cache.clear()
        if hasattr(state, "web_cache"):
            state.web_cache.clear()
    summary = [*erased["summary"], "server caches: API results and dashboard pages dropped"]
    return erased | {"summary": summary}
