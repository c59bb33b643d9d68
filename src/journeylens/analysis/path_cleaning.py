"""The path every path analysis reads: a person's (or a session's) events in order, cleaned.

``paths``, ``transitions``, ``step_matrix`` and ``journey_map`` all start from
:func:`clean_paths`, so one spec vocabulary (:class:`PathCleaning`, the base of their specs)
means the same thing in all four:

1. **Who walks a path.** Rows with a null ``person_id`` are not persons and are left out.
   ``scope="session"`` (default) makes one path per ``session_id``; ``scope="person"`` one
   path per person over their whole history. Only the message ``event_types`` given take part
   (default track, page and screen: identify, alias and group describe who someone is, not
   something they did).
2. **Order.** Events are ordered by ``timestamp`` and, at the same timestamp, by ``message_id``
   (text order), so ties come out the same on every engine and every run.
3. **The node.** A step of a path is the event's ``node`` value: ``"event"`` (the event name,
   default) or any event property ``with_property`` reads (a column such as ``channel``, a
   dotted JSON path such as ``context.page.path``, or a ``properties`` key). Where the property
   is unset the event name stands in, so ``node="context.page.path"`` gives page paths for page
   views and event names for everything else, as PostHog mixes ``$current_url`` and event names.
   A message with neither (an identify has no event name) is left out.
4. **Grouping**, in this order: ``mapping`` renames exact node values (``{"Email Opened":
   "Email"}``); then each of ``rules`` replaces every match of its regular expression with its
   alias, in sequence, the output of one rule feeding the next (PostHog's path cleaning rules,
   e.g. ``/product/[^/]+`` → ``/product/<id>``). Aliases are literal text. Patterns must mean the
   same on DuckDB (RE2) and Spark (Java regex): look-arounds and backreferences are refused,
   and so are patterns that match the empty text (``.*``), which the two engines apply
   differently.
5. **Exclusion.** Steps whose node, after grouping, is in ``exclude`` are dropped (so an alias
   can be excluded, and an ungrouped event name still works).
6. **Repeats.** With ``collapse_repeats`` (default) a step equal to the step just before it in
   the same path is dropped, after grouping and exclusion: ``A A B`` → ``A B``, and ``A X A`` with
   ``X`` excluded → ``A``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, Self

import ibis
import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from journeylens.analysis.base import Spec
from journeylens.analysis.properties import with_property
from journeylens.enrich.stages import check_portable_regex
from journeylens.errors import JourneyLensError

__all__ = [
    "END",
    "START",
    "CleaningRule",
    "EventType",
    "PathCleaning",
    "PathScope",
    "clean_paths",
    "json_records",
    "json_value",
    "path_events",
]

#: Pseudo-events marking where a path begins and ends (transitions, step matrix, journey map).
START = "[start]"
END = "[end]"

PathScope = Literal["session", "person"]
EventType = Literal["track", "page", "screen", "identify", "alias", "group"]

# Stands in for a match while a rule is applied: regexp_replace reads "\1" (DuckDB) or "$1"
# (Spark) in its replacement, so the alias itself goes in with a plain, literal text replace.
_SLOT = "\ue000"


class CleaningRule(Spec):
    """Replace every match of ``pattern`` in a node with the literal text ``alias``.

    >>> CleaningRule(pattern="^/product/.*$", alias="/product/<id>").alias
    '/product/<id>'
    """

    pattern: str = Field(min_length=1)
    alias: str

    @field_validator("pattern")
    @classmethod
    def _portable(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
            check_portable_regex(pattern, where="path cleaning rule")
        except re.error as exc:
            raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        except JourneyLensError as exc:
            raise ValueError(str(exc)) from exc
        # A pattern that matches nothing-at-all would insert the alias between every character,
        # and DuckDB and Spark disagree on the empty match at the end ("Home" → "X" or "XX").
        if re.search(pattern, "") is not None:
            raise ValueError("pattern matches the empty text; use '.+' rather than '.*'")
        return pattern


class PathCleaning(Spec):
    """What a path is and how it is cleaned; the base of every path analysis spec.

    >>> PathCleaning(scope="person", mapping={"Email Opened": "Email"}).scope
    'person'
    """

    scope: PathScope = "session"
    event_types: tuple[EventType, ...] = Field(("track", "page", "screen"), min_length=1)
    node: str = "event"
    mapping: dict[str, str] = Field(default_factory=dict)
    rules: tuple[CleaningRule, ...] = ()
    exclude: tuple[str, ...] = ()
    collapse_repeats: bool = True

    @model_validator(mode="after")
    def _node_names_a_property(self) -> Self:
        if not self.node.strip():
            raise ValueError(
                "node must name an event property, e.g. 'event' or 'context.page.path'"
            )
        return self


def path_events(events: ibis.Table, spec: PathCleaning) -> ibis.Table:
    """The raw events that take part in paths (rule 1), before any cleaning.

    Returns:
        ``events`` rows with a person, of the ``event_types`` (and a session in session
        scope), plus ``_jl_path`` (string): the path the row belongs to.
    """
    keep = events.person_id.notnull() & events.type.isin(list(spec.event_types))
    if spec.scope == "session":
        keep &= events.session_id.notnull()
    t = events.filter(keep)
    path_id = t.session_id if spec.scope == "session" else t.person_id
    return t.mutate(_jl_path=path_id.cast("string"))


def clean_paths(events: ibis.Table, spec: PathCleaning, *, numbered: bool = True) -> ibis.Table:
    """The cleaned steps of every path (see the module docstring for each rule).

    Args:
        events: the events table.
        spec: the path definition.
        numbered: add ``step``. A caller that orders the steps itself, with more window
            functions over the same (``timestamp``, ``message_id``) order, passes False so
            the engine sorts the paths once for all of them rather than once more for ``step``.

    Returns:
        One row per step (an Ibis expression, not executed), with:

        - ``path_id`` (string): the session id (session scope) or the person id (person scope).
        - ``person_id`` (string): whose path it is.
        - ``step`` (int64): position in the cleaned path, 1 for the first step (when
          ``numbered``).
        - ``node`` (string): the step's node after mapping and rules.
        - ``event`` (string): the event name of the message behind the step.
        - ``stage`` (string): that message's journey stage (null when it has none).
        - ``timestamp``, ``message_id``: of that message.

    >>> ev = ibis.memtable({"person_id": ["p", "p", "p"], "session_id": ["s", "s", "s"],
    ...     "type": ["page", "page", "track"], "event": ["Home", "Home", "Signed Up"],
    ...     "stage": [None, None, None], "message_id": ["1", "2", "3"],
    ...     "timestamp": [1, 2, 3]})
    >>> clean_paths(ev, PathCleaning()).order_by("step").node.to_list()
    ['Home', 'Signed Up']
    """
    t = path_events(events, spec)
    if spec.node == "event":
        t = t.mutate(_jl_node=t.event)
    else:
        t = with_property(t, "_jl_node", spec.node)
        t = t.mutate(_jl_node=t._jl_node.coalesce(t.event))
    node = t._jl_node
    if spec.mapping:
        node = ibis.cases(*((node == old, new) for old, new in spec.mapping.items()), else_=node)
    for rule in spec.rules:
        node = node.re_replace(rule.pattern, _SLOT).replace(_SLOT, rule.alias)
    t = t.select(
        path_id=t._jl_path,
        person_id=t.person_id,
        node=node,
        event=t.event,
        stage=t.stage,
        timestamp=t.timestamp,
        message_id=t.message_id,
    )
    t = t.filter(t.node.notnull())
    if spec.exclude:
        t = t.filter(~t.node.isin(list(spec.exclude)))
    order = ibis.window(group_by=t.path_id, order_by=[t.timestamp, t.message_id])
    if spec.collapse_repeats:
        t = t.mutate(_jl_prev=t.node.lag().over(order))
        t = t.filter(t._jl_prev.isnull() | (t._jl_prev != t.node)).drop("_jl_prev")
        order = ibis.window(group_by=t.path_id, order_by=[t.timestamp, t.message_id])
    return t.mutate(step=ibis.row_number().over(order) + 1) if numbered else t


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a small result frame as JSON-ready dicts: numpy numbers become ``int`` or
    ``float``, NaN and missing values ``None``, timestamps ISO-8601 text.

    >>> json_records(pd.DataFrame({"a": [1, None], "b": ["x", None]}))
    [{'a': 1.0, 'b': 'x'}, {'a': None, 'b': None}]
    """
    return [{str(k): json_value(v) for k, v in row.items()} for row in frame.to_dict("records")]


def json_value(value: Any) -> Any:
    """One value as JSON: numpy scalars and arrays to Python, NaN/NA to None, timestamps to
    ISO-8601 text, mappings and sequences element by element.

    >>> json_value({"n": np.int64(3), "x": [np.nan, 1.5], "a": np.array([1, 2])})
    {'n': 3, 'x': [None, 1.5], 'a': [1, 2]}
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_value(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
