"""Property filters: ``{property, operator, value, source}``, as in PostHog's filter rows.

Operators on the property's text value (see ``properties``):

=================  ==========================================================================
``exact``          equal to the value, or to any value of a list; numbers compare as numbers
``is_not``         not equal (to any value of a list); an unset property matches
``icontains``      contains the text, case-insensitive
``not_icontains``  does not contain it; an unset property matches
``regex``          matches the regular expression (searched, not anchored)
``not_regex``      does not match; an unset property matches
``gt`` ``gte``     greater than (or equal to) the number; text that is not a number fails
``lt`` ``lte``     less than (or equal to) the number
``is_set``         the property has a value
``is_not_set``     the property has no value
=================  ==========================================================================

The negative operators let an unset property through, as PostHog does: "plan is not pro" keeps
people without a plan.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, Self

import ibis
import ibis.expr.types as ir
from pydantic import model_validator

from journeylens.analysis.base import Spec
from journeylens.analysis.properties import PropertySource, with_property

__all__ = ["Operator", "PropertyFilter", "filter_events", "with_match"]

Operator = Literal[
    "exact",
    "is_not",
    "icontains",
    "not_icontains",
    "regex",
    "not_regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_set",
    "is_not_set",
]
Scalar = str | int | float | bool

_NUMERIC = {"gt", "gte", "lt", "lte"}
_TEXT = {"icontains", "not_icontains", "regex", "not_regex"}
_NO_VALUE = {"is_set", "is_not_set"}


class PropertyFilter(Spec):
    """One condition on a property of the event, its person or its group.

    >>> PropertyFilter(property="plan", operator="exact", value=["pro", "team"]).operator
    'exact'
    """

    property: str
    operator: Operator = "exact"
    value: Scalar | list[Scalar] | None = None
    source: PropertySource = "event"

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Self:
        op, value = self.operator, self.value
        if not self.property.strip():
            raise ValueError("property must name a property, e.g. 'plan' or 'context.page.path'")
        if op in _NO_VALUE:
            if value is not None:
                raise ValueError(f"operator {op!r} takes no value; remove 'value'")
        elif value is None or value == []:
            raise ValueError(f"operator {op!r} needs a value")
        elif op in _NUMERIC and (
            isinstance(value, bool | list) or not isinstance(value, int | float)
        ):
            raise ValueError(f"operator {op!r} compares numbers; value must be one number")
        elif op in _TEXT and not isinstance(value, str):
            raise ValueError(f"operator {op!r} needs one text value")
        if op in {"regex", "not_regex"}:
            try:
                re.compile(str(value))
            except re.error as exc:
                raise ValueError(f"value is not a valid regular expression: {exc}") from exc
        return self


def with_match(events: ibis.Table, filters: Sequence[PropertyFilter], column: str) -> ibis.Table:
    """``events`` plus a boolean ``column``: true where every filter holds (true when none).

    Returns:
        The same rows with ``column`` added; property columns read along the way are dropped.
    """
    names = [f"_jl_prop_{column}_{i}" for i in range(len(filters))]
    for name, flt in zip(names, filters, strict=True):
        events = with_property(events, name, flt.property, flt.source)
    condition: ir.BooleanValue = ibis.literal(True)
    for name, flt in zip(names, filters, strict=True):
        condition = condition & _condition(events[name], flt)
    return events.mutate(**{column: condition}).drop(*names)


def filter_events(events: ibis.Table, filters: Sequence[PropertyFilter]) -> ibis.Table:
    """The events on which every filter holds."""
    if not filters:
        return events
    marked = with_match(events, filters, "_jl_keep")
    return marked.filter(marked._jl_keep).drop("_jl_keep")


def _condition(text: ir.StringValue, flt: PropertyFilter) -> ir.BooleanValue:
    op, value = flt.operator, flt.value
    if op == "is_set":
        return text.notnull()
    if op == "is_not_set":
        return text.isnull()
    if op in _NUMERIC:
        number = text.try_cast("float64")
        bound = float(value)  # type: ignore[arg-type]
        compare = {
            "gt": number > bound,
            "gte": number >= bound,
            "lt": number < bound,
            "lte": number <= bound,
        }[op]
        return compare.fill_null(False)
    if op in {"exact", "is_not"}:
        values = value if isinstance(value, list) else [value]
        hit = _equals_any(text, values).fill_null(False)
        return hit if op == "exact" else ~hit
    if op in {"icontains", "not_icontains"}:
        hit = text.lower().contains(str(value).lower()).fill_null(False)
        return hit if op == "icontains" else ~hit
    hit = text.re_search(str(value)).fill_null(False)
    return hit if op == "regex" else ~hit


def _equals_any(text: ir.StringValue, values: list[Scalar]) -> ir.BooleanValue:
    words = [_text(v) for v in values if not isinstance(v, int | float) or isinstance(v, bool)]
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    hit: ir.BooleanValue = ibis.literal(False)
    if words:
        hit = hit | text.isin(words)
    if numbers:
        hit = hit | text.try_cast("float64").isin(numbers)
    return hit


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
