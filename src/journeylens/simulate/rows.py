"""Blocks of event rows and how they become one canonical events table.

Every generator returns a :class:`Block`: a batch of rows that share a shape (say, all "Email
Opened" events), with per-row arrays for what varies. :func:`assemble` stacks the blocks of a
cohort, mints message ids, adds the ingestion delay (``received_at``), sorts by time and returns
the events table in exactly ``EVENTS_ARROW_SCHEMA`` together with the true author of every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from journeylens.schema import EVENTS_ARROW_SCHEMA
from journeylens.simulate.columns import const, timestamps, uuid_ids

__all__ = ["DELAYS", "Block", "Provenance", "assemble"]

#: Ingestion delay profiles: (median seconds, log-normal sigma). Browsers post at once, apps
#: batch (sometimes offline for a while), POS/CTI files are imported nightly.
DELAYS = {"web": (0.4, 0.8), "app": (20.0, 1.8), "import": (6 * 3600.0, 0.5), "server": (1.0, 0.5)}

Text = pa.Array | str | None


@dataclass(frozen=True)
class Block:
    """Rows of one shape. ``person`` is cohort-local; strings may be a constant or an array."""

    person: np.ndarray
    timestamp_us: np.ndarray
    type: str
    event: Text
    source: Text
    context: Text
    delay: str
    anonymous_id: Text = None
    user_id: Text = None
    previous_id: Text = None
    group_id: Text = None
    properties: Text = None
    traits: Text = None
    revenue: np.ndarray | None = None
    currency: Text = None
    #: Provenance for the truth tables: a label ("visit", "feedback") and a row reference.
    label: str | None = None
    ref: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.person)


def _column(value: Text, n: int) -> pa.Array:
    if isinstance(value, pa.Array):
        if len(value) != n:
            raise AssertionError(f"block column has {len(value)} rows, expected {n}")
        return value
    return const(value, n)


@dataclass(frozen=True)
class Provenance:
    """Who produced each assembled row, and which labelled generator row it came from."""

    person_key: np.ndarray
    label: np.ndarray  # object array: the block's label or None
    ref: np.ndarray  # the block's row reference, -1 when unlabelled

    def rows(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        """(row positions in the events table, refs) of the rows carrying ``label``."""
        where = np.flatnonzero((self.label == label) & (self.ref >= 0))
        return where, self.ref[where]


def assemble(
    blocks: list[Block], rng: np.random.Generator, person_key: np.ndarray, end_us: int
) -> tuple[pa.Table, Provenance]:
    """Stack blocks into a time-sorted events table.

    Rows at or after ``end_us`` (a refund due after the window closes, say) are dropped here,
    so every timestamp lies inside the window.

    Returns:
        (events, provenance): ``events`` in ``EVENTS_ARROW_SCHEMA``; ``provenance.person_key[i]``
        is the global key of the person who really produced row ``i``.
    """
    blocks = [b for b in blocks if len(b)]
    n = sum(len(b) for b in blocks)
    ts = np.concatenate([b.timestamp_us for b in blocks]) if blocks else np.empty(0, np.int64)
    person = np.concatenate([b.person for b in blocks]) if blocks else np.empty(0, np.int64)
    median = np.concatenate([np.full(len(b), DELAYS[b.delay][0]) for b in blocks] or [[]])
    sigma = np.concatenate([np.full(len(b), DELAYS[b.delay][1]) for b in blocks] or [[]])
    delay_us = (median * np.exp(sigma * rng.standard_normal(n)) * 1e6).astype(np.int64)
    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    text = ("type", "event", "anonymous_id", "user_id", "previous_id", "group_id", "source")
    for name in (*text, "properties", "context", "traits", "currency"):
        columns[name] = pa.chunked_array(
            [_column(getattr(b, name), len(b)) for b in blocks], type=pa.string()
        )
    revenue = np.concatenate(
        [b.revenue if b.revenue is not None else np.full(len(b), np.nan) for b in blocks] or [[]]
    )
    keep = ts < end_us
    order = np.flatnonzero(keep)[np.argsort(ts[keep], kind="stable")]
    table = pa.table(
        {
            "message_id": uuid_ids(rng, n),
            "type": columns["type"],
            "event": columns["event"],
            "anonymous_id": columns["anonymous_id"],
            "user_id": columns["user_id"],
            "previous_id": columns["previous_id"],
            "group_id": columns["group_id"],
            "timestamp": timestamps(ts),
            "received_at": timestamps(ts + delay_us),
            "source": columns["source"],
            "properties": columns["properties"],
            "context": columns["context"],
            "traits": columns["traits"],
            "revenue": pa.array(revenue, mask=np.isnan(revenue), type=pa.float64()),
            "currency": columns["currency"],
        }
    )
    table = table.take(pa.array(order)).cast(EVENTS_ARROW_SCHEMA)
    label = np.concatenate([np.full(len(b), b.label, dtype=object) for b in blocks] or [[]])
    ref = np.concatenate(
        [b.ref if b.ref is not None else np.full(len(b), -1) for b in blocks] or [[]]
    ).astype(np.int64)
    return table.combine_chunks(), Provenance(person_key[person[order]], label[order], ref[order])
