"""Time-zone rules for sends: quiet hours, the next best hour, the next date of a date trait.

Every function takes the instant to reason from (``at``, UTC-aware) and a person's IANA zone and
returns a UTC instant; none reads the clock. Local wall times are turned into instants with
:mod:`zoneinfo`'s rules, which settle the two daylight-saving edge cases the same way everywhere:

- a local time that does not exist (02:30 on the spring-forward night in New York) is read with
  the offset in force before the change, so it lands just after the gap (03:30 local): a send
  planned for a skipped time goes out as soon as the clock has jumped, never a day late;
- a local time that happens twice (01:30 on the autumn night) means its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journeylens.activate.journey import QuietHours
from journeylens.errors import ValidationError

__all__ = [
    "check_instant",
    "in_quiet_hours",
    "local_instant",
    "next_allowed_send",
    "next_date_occurrence",
    "next_local_hour",
    "person_zone",
]


def check_instant(at: datetime, name: str = "now") -> datetime:
    """``at`` in UTC; a naive datetime is refused (it has no place on the time line).

    >>> check_instant(datetime(2026, 3, 8, 12, tzinfo=UTC)).hour
    12
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValidationError(
            f"{name} must be a time-zone-aware datetime",
            received=at,
            fix="Pass datetime(..., tzinfo=datetime.UTC)",
        )
    return at.astimezone(UTC)


def person_zone(name: str | None, default: str) -> ZoneInfo:
    """The person's zone ``name``; ``default`` (the journey's) when it is missing or unknown.

    A time zone in the data comes from devices and may be garbage; a bad one must not stop a
    journey, so it falls back rather than raising.

    >>> person_zone("Mars/Olympus", "Asia/Seoul").key
    'Asia/Seoul'
    """
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(default)


def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall time ``wall`` on ``day`` in ``zone`` (DST rules as in the module
    docstring).

    >>> local_instant(date(2026, 3, 8), time(2, 30), ZoneInfo("America/New_York")).isoformat()
    '2026-03-08T07:30:00+00:00'
    """
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def in_quiet_hours(at: datetime, quiet: QuietHours, zone: ZoneInfo) -> bool:
    """Whether ``at`` falls in the quiet window (``start`` included, ``end`` excluded).

    >>> q = QuietHours(start="21:00", end="08:00")
    >>> in_quiet_hours(datetime(2026, 1, 1, 13, tzinfo=UTC), q, ZoneInfo("Asia/Seoul"))
    True
    """
    wall = at.astimezone(zone).time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        return quiet.start <= wall < quiet.end
    return wall >= quiet.start or wall < quiet.end


def next_allowed_send(at: datetime, quiet: QuietHours | None, zone: ZoneInfo) -> datetime:
    """The first instant at or after ``at`` outside the quiet hours in ``zone``.

    Returns:
        ``at`` itself when it is outside the window (or there is no window), else the end of the
        window: the next ``quiet.end`` wall time after ``at``.

    >>> q = QuietHours(start="21:00", end="08:00")
    >>> at = datetime(2026, 1, 1, 13, tzinfo=UTC)
    >>> next_allowed_send(at, q, ZoneInfo("Asia/Seoul")).isoformat()
    '2026-01-01T23:00:00+00:00'
    """
    at = check_instant(at, "at")
    if quiet is None or not in_quiet_hours(at, quiet, zone):
        return at
    return _next_wall(at, quiet.end, zone)


def next_local_hour(at: datetime, hour: int, zone: ZoneInfo) -> datetime:
    """The first instant at or after ``at`` whose local hour in ``zone`` is ``hour``.

    Returns:
        ``at`` when its local hour already is ``hour`` (send now, within the best hour), else the
        next ``hour``:00 local. On the spring-forward day a skipped hour (02:00 in New York)
        maps to the instant right after the gap.

    >>> at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    >>> next_local_hour(at, 20, ZoneInfo("Europe/London")).isoformat()
    '2026-01-01T20:00:00+00:00'
    """
    at = check_instant(at, "at")
    if not 0 <= hour <= 23:
        raise ValidationError("An hour of the day must be 0-23", received=hour)
    if at.astimezone(zone).hour == hour:
        return at
    return _next_wall(at, time(hour), zone)


def _next_wall(at: datetime, wall: time, zone: ZoneInfo) -> datetime:
    """The first instant after ``at`` showing wall time ``wall`` in ``zone``.

    In the repeated autumn hour both occurrences count (after the first has passed, the second
    is next); a skipped spring time has one instant, just after the gap.
    """
    today = at.astimezone(zone).date()
    candidates = []
    for offset in range(3):
        day = today + timedelta(days=offset)
        first = local_instant(day, wall, zone)
        candidates.append(first)
        second = datetime.combine(day, wall, tzinfo=zone).replace(fold=1)
        # fold=1 is a real second occurrence only when it shows the same wall time again.
        if (
            second.astimezone(UTC) != first
            and second.astimezone(UTC).astimezone(zone).time() == wall
        ):
            candidates.append(second.astimezone(UTC))
    return min(c for c in candidates if c > at)


def next_date_occurrence(
    value: date,
    *,
    offset_days: int,
    annual: bool,
    hour: int,
    zone: ZoneInfo,
    after: datetime,
) -> datetime | None:
    """When a date trait next fires: ``value`` (each year when ``annual``) shifted by
    ``offset_days``, at ``hour`` local time, at or after ``after``.

    Returns:
        The UTC instant, or None for a one-off date already past. An annual 29 February fires on
        28 February in years without one.

    >>> next_date_occurrence(date(1990, 2, 29 - 1), offset_days=-7, annual=True, hour=9,
    ...     zone=ZoneInfo("Asia/Seoul"), after=datetime(2026, 1, 1, tzinfo=UTC)).isoformat()
    '2026-02-21T00:00:00+00:00'
    """
    after = check_instant(after, "after")
    wall = time(hour)
    if not annual:
        fire = local_instant(value + timedelta(days=offset_days), wall, zone)
        return fire if fire >= after else None
    year = after.astimezone(zone).year
    # The offset may move the firing date into the neighbouring year, so try one year back.
    for candidate_year in range(year - 1, year + 3):
        fire = local_instant(
            _anniversary(value, candidate_year) + timedelta(offset_days), wall, zone
        )
        if fire >= after:
            return fire
    raise AssertionError("an annual date recurs within a year")  # pragma: no cover


def _anniversary(value: date, year: int) -> date:
    try:
        return value.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)
