"""Storing rejected rows: the ``quarantine`` table, written once per rejected payload.

A rejected row is kept with its raw payload and the reason, under a ``row_key`` hashed from
what was rejected (source, code, field, raw payload) and not from where it sat in its batch: the
collector's journal may be drained again after a crash in batches cut differently, and the same
rejected message must not be quarantined twice. So identical rejected payloads from one source
are kept once (the ingest report still counts each of them).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import pyarrow as pa

from journeylens.collect.report import Rejection, rejection_message
from journeylens.schema import QUARANTINE_SCHEMA
from journeylens.store.catalog import Catalog

__all__ = ["quarantine_rejected", "rejection_key"]


def rejection_key(source: str, code: str, field: str | None, raw: str) -> str:
    """The ``row_key`` of a rejected payload (hex SHA-1).

    >>> rejection_key("collector", "BAD_TIMESTAMP", "timestamp", '{"a":1}')[:12]
    'd6de26247242'
    """
    return hashlib.sha1(f"{source}\x1f{code}\x1f{field or ''}\x1f{raw}".encode()).hexdigest()


def quarantine_rejected(
    catalog: Catalog,
    rejected: pa.Table,
    *,
    batch_id: str,
    source: str,
    received_at: datetime,
    report: list[Rejection],
    by_code: dict[str, int],
    max_reported: int,
) -> None:
    """Store the rejected rows of one staged chunk that are not stored yet, and count them
    into the ingest report.

    Args:
        rejected: the stager's rejected rows (``row``, ``field``, ``code``, ``value``, ``raw``).
        report: the ingest report's list of rejections; the first ``max_reported`` are added.
        by_code: rejections per code, updated with every row (stored before or not).
    """
    if rejected.num_rows == 0:
        return
    rows = rejected.to_pylist()
    messages = [rejection_message(r["code"], r["field"], r["value"]) for r in rows]
    for r, message in zip(rows, messages, strict=True):
        by_code[r["code"]] = by_code.get(r["code"], 0) + 1
        if len(report) < max_reported:
            rejection = Rejection(row=r["row"], field=r["field"], code=r["code"], message=message)
            report.append(rejection)
    # One row per key: the same payload twice in one chunk is one quarantine row too.
    first: dict[str, int] = {}
    for index, r in enumerate(rows):
        raw = r["raw"] if r["raw"] is not None else ""
        first.setdefault(rejection_key(source, r["code"], r["field"], raw), index)
    keep = list(first.values())
    table = pa.table(
        {
            "row_key": list(first),
            "batch_id": [batch_id] * len(keep),
            "row": [rows[i]["row"] for i in keep],
            "field": [rows[i]["field"] for i in keep],
            "code": [rows[i]["code"] for i in keep],
            "message": [messages[i] for i in keep],
            "raw": [rows[i]["raw"] if rows[i]["raw"] is not None else "" for i in keep],
            "source": [source] * len(keep),
            "received_at": pa.array([received_at] * len(keep), pa.timestamp("us", "UTC")),
        }
    )
    catalog.append("quarantine", table, QUARANTINE_SCHEMA, key="row_key")
