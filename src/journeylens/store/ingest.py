"""Storing a batch of events: stage every chunk of a source, keep the valid new rows, quarantine
the invalid ones, and say what happened in an ``IngestReport``.

Which valid rows may be stored at all is the caller's to say (``keep``): the workspace drops
the messages of erased persons there, which needs the identity layer above the store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

import pyarrow as pa

from journeylens.collect.report import IngestReport, Rejection
from journeylens.collect.sources import Source, describe_source, iter_chunks, total_rows
from journeylens.collect.staging import Stager
from journeylens.settings import IngestSettings
from journeylens.store.catalog import Catalog
from journeylens.store.quarantine import quarantine_rejected

__all__ = ["ingest_source"]

#: Rejections listed one by one in a report; the counts per code cover them all.
MAX_REPORTED_REJECTIONS = 1000


def ingest_source(
    catalog: Catalog,
    source: Source,
    settings: IngestSettings,
    *,
    keep: Callable[[pa.Table], pa.Table],
    clock: Callable[[], datetime],
    progress: Callable[[str, int, int | None], None],
    mapping: Mapping[str, str] | None = None,
    source_name: str | None = None,
    file_format: str | None = None,
) -> IngestReport:
    """Validate and store the events of ``source`` (see ``Workspace.ingest``).

    ``keep(rows)`` returns the staged valid rows that may be stored; the others count as
    rejected with code ``SUPPRESSED`` and are kept nowhere. The data version is bumped when
    anything was stored, even if a later chunk fails (its earlier chunks stay stored).

    Returns:
        The ``IngestReport``: rows read, accepted, duplicates, rejected (the first
        ``MAX_REPORTED_REJECTIONS`` with row, field, code, message; counts per code), seconds.
    """
    started = time.perf_counter()
    batch_id = uuid.uuid4().hex[:16]
    name = source_name or describe_source(source)
    stager = Stager(
        settings, source_name=name, received_at=clock(), mapping=dict(mapping) if mapping else None
    )
    accepted = duplicates = rejected_count = 0
    rejections: list[Rejection] = []
    by_code: dict[str, int] = {}
    total = total_rows(source)
    try:
        for chunk in iter_chunks(source, chunk_rows=settings.chunk_rows, file_format=file_format):
            staged = stager.stage(chunk)
            rows = keep(staged.accepted)
            if rows.num_rows < staged.accepted.num_rows:
                dropped = staged.accepted.num_rows - rows.num_rows
                rejected_count += dropped
                by_code["SUPPRESSED"] = by_code.get("SUPPRESSED", 0) + dropped
            added = catalog.append_events(rows)
            accepted += added
            duplicates += staged.repeats + rows.num_rows - added
            rejected_count += staged.rejected.num_rows
            quarantine_rejected(
                catalog,
                staged.rejected,
                batch_id=batch_id,
                source=name,
                received_at=clock(),
                report=rejections,
                by_code=by_code,
                max_reported=MAX_REPORTED_REJECTIONS,
            )
            progress("ingest", chunk.data.num_rows, total)
    finally:
        stager.close()
        # Chunks already stored stay stored if a later one fails (a file cut short): mark the
        # data changed so derived tables are rebuilt over them.
        if accepted:
            catalog.set("data_version", str(catalog.get_int("data_version") + 1))
    return IngestReport(
        batch_id=batch_id,
        source=name,
        rows=accepted + duplicates + rejected_count,
        accepted=accepted,
        duplicates=duplicates,
        rejected_count=rejected_count,
        rejected_by_code=by_code,
        rejected=rejections,
        seconds=time.perf_counter() - started,
    )
