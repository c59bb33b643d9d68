"""Which events an analysis counts: an event name (or several, or any event) plus filters.

Retention's start and return events, lifecycle's activity and every trends series are chosen
the same way, with an :class:`EventMatch`. A spec field typed :data:`EventField` also takes a
bare event name, so ``"Order Completed"`` and ``{"event": "Order Completed"}`` mean the same.

Only behaviour counts as an event here: ``track``, ``page`` and ``screen`` messages (a page or
screen is matched by its name). Identity calls (``identify``, ``group``, ``alias``) say who a
person is, not that they did something, so "any event" leaves them out. Rows without a
``person_id`` are not persons and are left out too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Self

import ibis
import ibis.expr.types as ir
from pydantic import BeforeValidator, model_validator

from journeylens.analysis.base import Spec
from journeylens.analysis.filters import PropertyFilter, with_match

__all__ = [
    "BEHAVIOUR_TYPES",
    "EventField",
    "EventMatch",
    "event_names",
    "matched_events",
    "with_event_match",
]

#: The message types that record something a person did.
BEHAVIOUR_TYPES = ("track", "page", "screen")


class EventMatch(Spec):
    """The events to count: ``event`` is a name, a list of names (any of them) or ``None`` for
    any event; every filter in ``where`` must hold too.

    >>> EventMatch(event="Order Completed").title
    'Order Completed'
    >>> EventMatch().title
    'Any event'
    """

    event: str | list[str] | None = None
    where: tuple[PropertyFilter, ...] = ()

    @model_validator(mode="after")
    def _names_are_given(self) -> Self:
        names = [self.event] if isinstance(self.event, str) else self.event or []
        if isinstance(self.event, list) and not self.event:
            raise ValueError("event must list at least one name, or be null for any event")
        if any(not name.strip() for name in names):
            raise ValueError("an event name must not be empty; use null for any event")
        return self

    @property
    def title(self) -> str:
        """A short human name for charts and tables."""
        if self.event is None:
            return "Any event"
        return self.event if isinstance(self.event, str) else " or ".join(self.event)


def _coerce(value: Any) -> Any:
    return {"event": value} if isinstance(value, str) else value


#: A spec field holding an :class:`EventMatch`; a bare string is read as an event name.
EventField = Annotated[EventMatch, BeforeValidator(_coerce)]


def with_event_match(events: ibis.Table, match: EventMatch, column: str) -> ibis.Table:
    """``events`` plus a boolean ``column``: true on the person's behaviour events that match.

    Call it on the whole events table: person and group filters read traits from identity
    messages, which the match itself then leaves out.

    Returns:
        The same rows with ``column`` added (false, never null, where the event does not match).

    >>> t = ibis.memtable({"type": ["track", "identify"], "event": ["Buy", None],
    ...                    "person_id": ["p", "p"]})
    >>> with_event_match(t, EventMatch(), "hit").hit.to_list()
    [True, False]
    """
    condition = events.type.isin(BEHAVIOUR_TYPES) & events.person_id.notnull()
    if isinstance(match.event, str):
        condition &= events.event == match.event
    elif match.event is not None:
        condition &= events.event.isin(match.event)
    if not match.where:
        return events.mutate(**{column: condition.fill_null(False)})
    flag = f"{column}_where"
    marked = with_match(events, match.where, flag)
    return marked.mutate(**{column: (condition & marked[flag]).fill_null(False)}).drop(flag)


def event_names(matches: Sequence[EventMatch]) -> list[str] | None:
    """Every event name the matches can select, or ``None`` when one of them is "any event";
    used to narrow the table before heavier work.

    >>> event_names([EventMatch(event="a"), EventMatch(event=["b", "a"])])
    ['a', 'b']
    """
    names: set[str] = set()
    for match in matches:
        if match.event is None:
            return None
        names.update([match.event] if isinstance(match.event, str) else match.event)
    return sorted(names)


def matched_events(events: ibis.Table, matches: Mapping[str, EventMatch]) -> ibis.Table:
    """The rows at least one of ``matches`` selects, with one boolean column per match.

    When no filter reads person or group traits the table is first narrowed by type, person
    and event name, so property filters are only evaluated on candidate rows.

    Returns:
        A subset of ``events``' rows plus a boolean column named after each key of ``matches``.

    >>> t = ibis.memtable({"type": ["track", "track"], "event": ["a", "b"],
    ...                    "person_id": ["p", "p"]})
    >>> matched_events(t, {"is_a": EventMatch(event="a")}).event.to_list()
    ['a']
    """
    reads_traits = any(f.source != "event" for m in matches.values() for f in m.where)
    if not reads_traits:
        keep = events.type.isin(BEHAVIOUR_TYPES) & events.person_id.notnull()
        names = event_names(list(matches.values()))
        if names is not None:
            keep &= events.event.isin(names)
        events = events.filter(keep)
    for column, match in matches.items():
        events = with_event_match(events, match, column)
    hit: ir.BooleanValue = ibis.literal(False)
    for column in matches:
        hit |= events[column]
    return events.filter(hit)
