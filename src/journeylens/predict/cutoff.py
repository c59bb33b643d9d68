"""The cut-off every prediction is made at: events at or after it are invisible."""

from __future__ import annotations

from datetime import UTC, datetime

from journeylens.errors import ValidationError

__all__ = ["check_as_of"]


def check_as_of(as_of: datetime, *, name: str = "as_of") -> datetime:
    """``as_of`` in UTC if it is a timezone-aware datetime; else a ValidationError.

    Returns:
        The same instant with ``tzinfo=UTC``.

    >>> check_as_of(datetime(2024, 1, 1, tzinfo=UTC)).isoformat()
    '2024-01-01T00:00:00+00:00'
    """
    if not isinstance(as_of, datetime) or as_of.tzinfo is None:
        raise ValidationError(
            f"{name} must be a timezone-aware datetime",
            received=as_of,
            allowed="a datetime with tzinfo, e.g. datetime(2026, 3, 1, tzinfo=UTC)",
            fix="Pass tzinfo=UTC: a naive time could mean any zone, and the cut-off must be exact",
        )
    return as_of.astimezone(UTC)
