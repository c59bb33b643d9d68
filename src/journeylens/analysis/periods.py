"""Time buckets shared by every analysis that groups by ``hour``, ``day``, ``week`` or ``month``.

Buckets are UTC calendar periods; weeks start on Monday (ISO), the same on DuckDB and Spark.
"""

from __future__ import annotations

import ibis.expr.types as ir

from journeylens.analysis.base import Interval

__all__ = ["bucket"]

_UNITS: dict[str, str] = {"hour": "h", "day": "D", "week": "W", "month": "M"}


def bucket(timestamp: ir.TimestampValue, interval: Interval) -> ir.TimestampValue:
    """The start of the ``interval`` (UTC) that ``timestamp`` falls in.

    >>> import ibis
    >>> t = ibis.memtable({"ts": ["2024-01-03 17:45:00"]}).cast({"ts": "timestamp"})
    >>> str(bucket(t.ts, "week").to_list()[0])
    '2024-01-01 00:00:00'
    """
    return timestamp.truncate(_UNITS[interval])
