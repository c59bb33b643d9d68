"""Calendar periods: UTC buckets of hours, days, weeks (from Monday) and months.

``bucket`` truncates a timestamp to the start of its period (the same on DuckDB and Spark).
Periods are also numbered as integers, for analyses that join and subtract periods.

Retention asks "how many periods after the cohort period", lifecycle "was the person active the
period before", trends "the same offset in the previous range". With each UTC calendar period
numbered consecutively those are integer sums and equality joins, which every engine does
quickly and identically. The numbering (UTC, weeks start on Monday, as ``bucket``):

=========  ==================================================================================
``hour``   whole hours since 1970-01-01 00:00
``day``    whole days since 1970-01-01
``week``   Monday-to-Sunday weeks; week 0 is the one starting Monday 1969-12-29
``month``  ``year * 12 + month - 1`` (so January 2024 is 24288)
=========  ==================================================================================

Only the small aggregated results are turned back into datetimes, in Python (:func:`start_of`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Self

import ibis
import ibis.expr.types as ir
from pydantic import AfterValidator, model_validator

from journeylens.analysis.base import Interval, Spec

__all__ = [
    "DateRangeSpec",
    "UtcDatetime",
    "bucket",
    "in_periods",
    "number_of",
    "period_number",
    "period_range",
    "start_of",
    "timestamp_bounds",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECONDS = {"hour": 3600, "day": 86400}
# 1970-01-01 was a Thursday: shifting by 3 days makes every week number begin on a Monday.
_WEEK_SHIFT_DAYS = 3


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: A moment in UTC: ISO text or a ``datetime``; one without a time zone is read as UTC.
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class DateRangeSpec(Spec):
    """A spec with an optional UTC range, ``date_from`` not after ``date_to``; a missing end
    is taken from the data."""

    date_from: UtcDatetime | None = None
    date_to: UtcDatetime | None = None

    @model_validator(mode="after")
    def _range_is_ordered(self) -> Self:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self


def period_number(timestamp: ir.TimestampValue, interval: Interval) -> ir.IntegerValue:
    """The number of the UTC calendar ``interval`` that ``timestamp`` falls in (see above).

    Returns:
        An int64 column: consecutive periods have consecutive numbers.

    >>> import ibis
    >>> t = ibis.memtable({"ts": ["2024-01-07 23:59:00", "2024-01-08 00:00:00"]})
    >>> period_number(t.ts.cast("timestamp"), "week").to_list()
    [2818, 2819]
    """
    if interval == "month":
        return (timestamp.year() * 12 + timestamp.month() - 1).cast("int64")
    seconds = timestamp.epoch_seconds()
    if interval in _SECONDS:
        return (seconds // _SECONDS[interval]).cast("int64")
    return ((seconds // 86400 + _WEEK_SHIFT_DAYS) // 7).cast("int64")


def number_of(moment: datetime, interval: Interval) -> int:
    """The same numbering for one Python datetime (naive means UTC).

    >>> number_of(datetime(2024, 1, 8), "week")
    2819
    """
    moment = _as_utc(moment)
    if interval == "month":
        return moment.year * 12 + moment.month - 1
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    if interval in _SECONDS:
        return seconds // _SECONDS[interval]
    return (seconds // 86400 + _WEEK_SHIFT_DAYS) // 7


def start_of(number: Any, interval: Interval) -> datetime:
    """The UTC start of period ``number``.

    Returns:
        An aware ``datetime``: the first instant of the period.

    >>> start_of(2819, "week").isoformat()
    '2024-01-08T00:00:00+00:00'
    >>> start_of(24288, "month").isoformat()
    '2024-01-01T00:00:00+00:00'
    """
    number = int(number)
    if interval == "month":
        return datetime(number // 12, number % 12 + 1, 1, tzinfo=UTC)
    if interval in _SECONDS:
        return _EPOCH + timedelta(seconds=number * _SECONDS[interval])
    return _EPOCH + timedelta(days=number * 7 - _WEEK_SHIFT_DAYS)


def in_periods(
    timestamp: ir.TimestampValue, interval: Interval, first: int | None, last: int | None
) -> ir.BooleanValue:
    """Whether ``timestamp`` falls in periods ``first`` … ``last`` (either end may be open).

    Compares with literal instants rather than period numbers, so the engine can skip data by
    its timestamp statistics and need not compute a number for rows it drops.

    >>> import ibis
    >>> t = ibis.memtable({"ts": ["2024-01-07 23:59:00", "2024-01-08 00:00:00"]})
    >>> t.filter(in_periods(t.ts.cast("timestamp('UTC')"), "week", None, 2818)).count().to_pyarrow()
    <pyarrow.Int64Scalar: 1>
    """
    condition: ir.BooleanValue = ibis.literal(True)
    if first is not None:
        condition &= timestamp >= ibis.literal(start_of(first, interval))
    if last is not None:
        condition &= timestamp < ibis.literal(start_of(last + 1, interval))
    return condition


def timestamp_bounds(rows: ibis.Table) -> tuple[datetime, datetime] | None:
    """The earliest and latest ``timestamp`` of ``rows``, where an analysis has no range given:
    ranges default to the data, never to the clock.

    Returns:
        ``(earliest, latest)`` as aware UTC datetimes, or ``None`` when there are no rows.
    """
    bounds = (
        rows.aggregate(first=rows.timestamp.min(), last=rows.timestamp.max())
        .to_pyarrow()
        .to_pylist()[0]
    )
    if bounds["first"] is None:
        return None
    return _as_utc(bounds["first"]), _as_utc(bounds["last"])


def period_range(
    rows: ibis.Table, interval: Interval, date_from: datetime | None, date_to: datetime | None
) -> tuple[int, int] | None:
    """The numbers of the first and last period of a range: those of ``date_from`` and
    ``date_to``, or of the earliest and latest ``timestamp`` of ``rows`` where not given.

    Returns:
        ``(first, last)``, or ``None`` when an end must come from ``rows`` and there are none.
    """
    if date_from is None or date_to is None:
        bounds = timestamp_bounds(rows)
        if bounds is None:
            return None
        date_from, date_to = date_from or bounds[0], date_to or bounds[1]
    return number_of(date_from, interval), number_of(date_to, interval)


_UNITS: dict[str, str] = {"hour": "h", "day": "D", "week": "W", "month": "M"}


def bucket(timestamp: ir.TimestampValue, interval: Interval) -> ir.TimestampValue:
    """The start of the ``interval`` (UTC) that ``timestamp`` falls in.

    >>> import ibis
    >>> t = ibis.memtable({"ts": ["2024-01-03 17:45:00"]}).cast({"ts": "timestamp"})
    >>> str(bucket(t.ts, "week").to_list()[0])
    '2024-01-01 00:00:00'
    """
    return timestamp.truncate(_UNITS[interval])
