"""Identity edges marked wrong by a person: kept in ``edge_overrides`` and left out of every
later resolution."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import pyarrow as pa

from journeylens.errors import UnknownNameError
from journeylens.store.catalog import EDGE_OVERRIDES_SCHEMA, Catalog

__all__ = ["add_edge_overrides"]


def add_edge_overrides(
    catalog: Catalog, edge_ids: Collection[str], *, reason: str, now: datetime
) -> int:
    """Record the edges ``edge_ids`` (``merge_log.edge_id``) as wrong.

    Returns:
        How many were not recorded before (the caller re-resolves identities when any were).
        An id that is not in the merge log raises ``UnknownNameError`` and nothing is recorded.
    """
    log = catalog.table("merge_log")
    known = set(log.filter(log.edge_id.isin(list(edge_ids))).edge_id.to_pyarrow().to_pylist())
    unknown = [e for e in edge_ids if e not in known]
    if unknown:
        raise UnknownNameError("edge id", unknown[0], sorted(known)[:20])
    current = set(catalog.table("edge_overrides").edge_id.to_pyarrow().to_pylist())
    new = sorted(set(edge_ids) - current)
    if new:
        rows = pa.table(
            {
                "edge_id": new,
                "reason": [reason] * len(new),
                "created_at": pa.array([now] * len(new), pa.timestamp("us", "UTC")),
            }
        )
        catalog.append("edge_overrides", rows, EDGE_OVERRIDES_SCHEMA)
    return len(new)
