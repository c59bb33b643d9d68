"""Saved segment definitions as the workspace hands them out: names checked, specs parsed,
times in UTC. (Their members are computed above the store, from the events.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.store.catalog import Catalog

__all__ = ["check_segment_name", "forget_segment", "saved_segment", "saved_segment_list"]

_MAX_NAME = 200


def check_segment_name(name: object) -> str:
    """``name`` if it can name a segment: non-empty text of at most 200 characters.

    >>> check_segment_name("cart abandoners")
    'cart abandoners'
    """
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
        raise ValidationError(
            f"A segment name must be non-empty text of at most {_MAX_NAME} characters",
            received=name,
            fix="Name the segment, e.g. 'cart abandoners'",
        )
    return name


def saved_segment_list(catalog: Catalog) -> list[dict[str, Any]]:
    """The saved segments, sorted by name.

    Returns:
        One dict per segment: ``name``, ``analysis``, ``spec`` (its JSON values) and
        ``saved_at`` (UTC datetime).
    """
    return [
        row | {"spec": json.loads(row["spec"]), "saved_at": _utc(row["saved_at"])}
        for row in catalog.saved_segments()
    ]


def saved_segment(catalog: Catalog, name: str) -> dict[str, Any]:
    """The stored row of the segment ``name`` (``analysis``, ``spec`` as JSON text, …);
    ``UnknownNameError`` naming the saved ones if there is none."""
    saved = {row["name"]: row for row in catalog.saved_segments()}
    if name not in saved:
        raise UnknownNameError("segment", name, saved)
    return saved[name]


def forget_segment(catalog: Catalog, name: str) -> None:
    """Delete the segment ``name`` (``UnknownNameError`` if there is none)."""
    catalog.delete_segment(saved_segment(catalog, name)["name"])


def _utc(moment: datetime | None) -> datetime | None:
    """Spark hands timestamps back without a zone; they are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
