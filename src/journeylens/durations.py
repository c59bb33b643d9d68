"""Durations as strings with units: ``"10s"``, ``"30m"``, ``"1h"``, ``"14d"``, ``"2w"``, ``"1mo"``.

A month is 31 days, as PostHog converts it, so windows stay absolute seconds.
"""

from __future__ import annotations

import re
from datetime import timedelta

from journeylens.errors import InvalidDurationError

__all__ = ["Duration", "parse_duration"]

_UNIT_SECONDS = {
    "s": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "d": 86_400,
    "w": 7 * 86_400,
    "mo": 31 * 86_400,
}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|min|mo|m|h|d|w)\s*$", re.IGNORECASE)

Duration = str | timedelta


def parse_duration(value: Duration, *, field: str = "duration") -> timedelta:
    """Read a duration string or ``timedelta`` into a positive ``timedelta``.

    Returns:
        The duration; ``"1mo"`` is 31 days.

    >>> parse_duration("30m")
    datetime.timedelta(seconds=1800)
    """
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise InvalidDurationError(
                f"{field} must be positive", received=value, fix="Use a positive duration"
            )
        return value
    match = _PATTERN.match(value) if isinstance(value, str) else None
    if not match:
        raise InvalidDurationError(
            f"{field} is not a duration",
            received=value,
            allowed="a number and a unit: s, m (minutes), h, d, w, mo (31 days), e.g. '30m', '14d'",
        )
    amount = float(match.group(1))
    seconds = amount * _UNIT_SECONDS[match.group(2).lower()]
    if seconds <= 0:
        raise InvalidDurationError(
            f"{field} must be positive", received=value, fix="Use a positive duration"
        )
    return timedelta(seconds=seconds)
