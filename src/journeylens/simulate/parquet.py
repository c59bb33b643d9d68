"""``write_parquet``: stream a simulation of any size to a Parquet file in bounded memory.

The work is cut into chunks of whole cohorts (``COHORT_SIZE`` customers each); one chunk is
generated, written and released before the next, so memory grows with ``chunk_customers``, not
with ``customers``. The file holds exactly the rows :func:`~journeylens.simulate.simulate` would
return for the same arguments, in the same order.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from journeylens.errors import ValidationError
from journeylens.schema import EVENTS_ARROW_SCHEMA
from journeylens.simulate.config import COHORT_SIZE, make_config
from journeylens.simulate.simulation import generate
from journeylens.simulate.truth import TABLES, Truth

__all__ = ["WriteSummary", "write_parquet"]


@dataclass(frozen=True)
class WriteSummary:
    """What :func:`write_parquet` wrote.

    Attributes:
        path: the events Parquet file.
        rows: events written (sum of ``chunk_rows``).
        customers: persons simulated.
        chunk_rows: events written per chunk, in order.
        seconds: wall time of the whole write.
        truth_dir: directory of truth Parquet files and ``truth.json``, or None.
    """

    path: Path
    rows: int
    customers: int
    chunk_rows: tuple[int, ...]
    seconds: float
    truth_dir: Path | None


def write_parquet(
    path: str | Path,
    customers: int,
    days: int,
    *,
    seed: int = 0,
    chunk_customers: int = 50_000,
    start: str | date = "2026-01-01",
    truth_dir: str | Path | None = None,
    compression: str = "zstd",
    **shares: float,
) -> WriteSummary:
    """Simulate ``customers`` over ``days`` and write the events to one Parquet file.

    Args:
        path: file to create (parent directories are made; an existing file is replaced).
        chunk_customers: customers generated and held in memory at once, rounded up to whole
            cohorts of 5,000; about 50 events (~25 MB of Arrow memory per 1,000 customers).
        truth_dir: when given, every truth table is streamed to ``<truth_dir>/<name>.parquet``
            and ``channel_effects`` / ``churn_warning_days`` / ``experiments`` (and, when
            planted, ``growing_topics`` and ``driver_effects`` / ``driver_as_of`` /
            ``driver_window_days``) go to
            ``<truth_dir>/truth.json``.
        shares: the other keyword arguments of :func:`~journeylens.simulate.simulate`
            (``registered_share``, ``shared_device_share``, …, ``channel_effects``).

    Returns:
        WriteSummary (see its attributes).

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "events.parquet"
        >>> write_parquet(out, 100, 14, seed=3).rows > 0
        True
    """
    if (
        isinstance(chunk_customers, bool)
        or not isinstance(chunk_customers, int)
        or chunk_customers < 1
    ):
        raise ValidationError(
            "write_parquet: chunk_customers must be a positive whole number",
            received=chunk_customers,
            allowed=">= 1 (rounded up to whole cohorts of 5,000)",
        )
    cfg = make_config(customers, days, seed=seed, start=start, **shares)
    began = time.perf_counter()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    per_chunk = -(-chunk_customers // COHORT_SIZE)
    truth_path = None if truth_dir is None else Path(truth_dir)
    truth_writers: dict[str, pq.ParquetWriter] = {}
    chunk_rows = []
    with pq.ParquetWriter(path, EVENTS_ARROW_SCHEMA, compression=compression) as writer:
        for first in range(0, cfg.cohorts, per_chunk):
            cohorts = range(first, min(first + per_chunk, cfg.cohorts))
            parts = list(generate(cfg, cohorts))
            events = pa.concat_tables([events for events, _ in parts])
            writer.write_table(events, row_group_size=1_000_000)
            chunk_rows.append(events.num_rows)
            if truth_path is not None:
                _write_truth(truth_path, truth_writers, [truth for _, truth in parts], compression)
            del parts, events
    for w in truth_writers.values():
        w.close()
    if truth_path is not None:
        summary = {
            "channel_effects": dict(cfg.channel_effects),
            "churn_warning_days": cfg.churn_warning_days,
            "experiments": Truth.experiments_table(cfg.days).to_pylist(),
        }
        if cfg.growing_topics:
            summary["growing_topics"] = dict(cfg.growing_topics)
        if cfg.driver_effects:
            summary["driver_effects"] = dict(cfg.driver_effects)
            summary["driver_as_of"] = (
                f"{cfg.start + timedelta(days=cfg.days - cfg.driver_window_days)}T00:00:00Z"
            )
            summary["driver_window_days"] = cfg.driver_window_days
        (truth_path / "truth.json").write_text(json.dumps(summary, indent=2))
    return WriteSummary(
        path=path,
        rows=sum(chunk_rows),
        customers=cfg.customers,
        chunk_rows=tuple(chunk_rows),
        seconds=time.perf_counter() - began,
        truth_dir=truth_path,
    )


def _write_truth(
    directory: Path, writers: dict[str, pq.ParquetWriter], parts: list[dict], compression: str
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        table = pa.concat_tables([p[name] for p in parts])
        if name not in writers:
            writers[name] = pq.ParquetWriter(
                directory / f"{name}.parquet", table.schema, compression=compression
            )
        writers[name].write_table(table)
