"""The filters every dashboard page takes, and the events they leave.

Filters (all optional, from the page address):

- ``date_from`` / ``date_to``: whole UTC days; behaviour events outside them are left out.
- ``channel``: behaviour events whose ``channel`` (the touch's channel, or the channel the
  session was acquired through) is this one.
- ``segment``: only the members of this saved segment.

Identity messages (``identify``, ``group``, ``alias``) are kept whatever the dates and channel,
because person and group properties are read from them: a breakdown by a person trait must see
the traits a person gave before the range began.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import ibis

from journeylens.analysis.event_match import BEHAVIOUR_TYPES
from journeylens.analysis.segments import SegmentResult
from journeylens.errors import UnknownNameError, ValidationError
from journeylens.schema import CHANNELS
from journeylens.web.cache import ResultCache
from journeylens.workspace import Workspace

__all__ = ["Filters", "Scope"]


@dataclass(frozen=True)
class Filters:
    """The page filters; ``None`` means "not filtered".

    >>> Filters.parse({"date_from": "2024-01-01", "channel": ""}).date_from
    datetime.date(2024, 1, 1)
    """

    date_from: date | None = None
    date_to: date | None = None
    channel: str | None = None
    segment: str | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Filters:
        """Read the filters from query parameters; empty values mean "not filtered".

        Returns:
            The filters. A malformed date, an unknown channel or a range that ends before it
            starts raises a ``ValidationError`` saying what is allowed.
        """
        start = _day(query.get("date_from"), "date_from")
        end = _day(query.get("date_to"), "date_to")
        if start and end and end < start:
            raise ValidationError(
                "date_to is before date_from",
                received=f"{start} .. {end}",
                fix="Pick an end date on or after the start date",
            )
        channel = query.get("channel") or None
        if channel is not None and channel not in CHANNELS:
            raise UnknownNameError("channel", channel, CHANNELS)
        return cls(start, end, channel, query.get("segment") or None)

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any((self.date_from, self.date_to, self.channel, self.segment))

    def query(self) -> dict[str, str]:
        """The filters as query parameters (only those set), to carry into links."""
        values = {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "channel": self.channel,
            "segment": self.segment,
        }
        return {k: v for k, v in values.items() if v}


class Scope:
    """The workspace seen through a page's filters; the caller holds the workspace lock."""

    def __init__(self, workspace: Workspace, cache: ResultCache, filters: Filters) -> None:
        self.workspace = workspace
        self.cache = cache
        self.filters = filters

    def version(self) -> tuple[Any, ...]:
        """What the numbers of a page depend on besides its own parameters: the data version
        and, with a segment filter, that segment's saved definition.

        Returns:
            A hashable tuple, part of every cache key.
        """
        segment = self.filters.segment
        return (self.workspace.data_version(), self._definition(segment) if segment else None)

    def events(self, *, dates: bool = True) -> ibis.Table:
        """The events left by the filters (the date range only when ``dates``: an analysis
        that compares with the period before takes the range in its spec instead).

        Returns:
            ``Workspace.events()`` narrowed as the module docstring says.
        """
        events = self.workspace.events()
        f = self.filters
        keep = []
        if dates and f.date_from:
            keep.append(events.timestamp >= _midnight(f.date_from))
        if dates and f.date_to:
            keep.append(events.timestamp < _midnight(f.date_to + timedelta(days=1)))
        if f.channel:
            keep.append(events.channel == f.channel)
        if keep:
            behaviour = events.type.isin(BEHAVIOUR_TYPES)
            events = events.filter(~behaviour | ibis.and_(*keep))
        if f.segment:
            ids = ibis.memtable({"person_id": list(self.members(f.segment))}, schema=_IDS)
            events = events.semi_join(ids, "person_id")
        return events

    def persons(self) -> ibis.Table | None:
        """The persons with behaviour inside the filters, one ``person_id`` column; None when
        nothing is filtered (every person is in scope)."""
        if not self.filters.active:
            return None
        events = self.events()
        events = events.filter(events.type.isin(BEHAVIOUR_TYPES) & events.person_id.notnull())
        return events.select("person_id").distinct()

    def segment(self, name: str) -> SegmentResult:
        """The members of the saved segment ``name`` (``Workspace.segment_members``), computed
        once per data version and segment definition."""
        key = ("segment-members", name, self.workspace.data_version(), self._definition(name))
        return self.cache.get_or_compute(key, lambda: self.workspace.segment_members(name))

    def members(self, name: str) -> tuple[str, ...]:
        """The person ids of the saved segment ``name`` (cached as :meth:`segment`)."""
        return self.segment(name).person_ids

    def event_names(self) -> list[str]:
        """The names of behaviour events, most frequent first (at most 300), for the pickers."""

        def compute() -> list[str]:
            events = self.workspace.events()
            named = events.filter(events.type.isin(BEHAVIOUR_TYPES) & events.event.notnull())
            counts = named.group_by("event").agg(n=named.count()).order_by(ibis.desc("n"))
            return [str(name) for name in counts.limit(300).event.to_pyarrow().to_pylist()]

        return self.cache.get_or_compute(("event-names", self.workspace.data_version()), compute)

    def latest_day(self) -> date | None:
        """The UTC day of the latest event, or None in an empty workspace."""

        def compute() -> date | None:
            latest = self.workspace.events().timestamp.max().to_pyarrow().as_py()
            return None if latest is None else latest.astimezone(UTC).date()

        return self.cache.get_or_compute(("latest-day", self.workspace.data_version()), compute)

    def _definition(self, name: str) -> str:
        saved = {s["name"]: s for s in self.workspace.segments()}
        if name not in saved:
            raise UnknownNameError("segment", name, saved)
        return json.dumps([saved[name]["analysis"], saved[name]["spec"]], sort_keys=True)


_IDS = {"person_id": "string"}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{field} is not a date",
            received=value,
            allowed="YYYY-MM-DD",
            fix="Pick the date in the date field",
        ) from None
