"""Property filters and split conditions evaluated on one event and one person, in Python.

The engine sees one message at a time, not a table, so it cannot use the Ibis filters of
:mod:`journeylens.analysis.filters`; this module gives the same :class:`PropertyFilter` the same
meaning over plain values. A value is compared as its text, as the analyses read JSON: numbers
and booleans as their JSON text (``2``, ``true``), the empty string as unset; the negative
operators let an unset property through. ``source="event"`` reads the event's ``properties``
(a dotted path walks nested objects; a leading ``properties.`` is allowed), ``source="person"``
the person's traits; group properties are not known to the engine and count as unset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from journeylens.activate.journey import ScoreCondition, SplitCondition, TraitCondition
from journeylens.analysis.filters import PropertyFilter

__all__ = ["condition_holds", "filters_match", "property_text"]


def property_text(values: Mapping[str, Any], path: str) -> str | None:
    """The text of ``path`` (dotted) in ``values``; None when unset, null or empty.

    >>> property_text({"cart": {"total": 2.5}, "ok": True}, "cart.total"), property_text({}, "x")
    ('2.5', None)
    """
    current: Any = values
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    if current is None or current == "":
        return None
    if isinstance(current, str):
        return current
    return json.dumps(current, separators=(",", ":"))


def filters_match(
    filters: Sequence[PropertyFilter],
    properties: Mapping[str, Any],
    traits: Mapping[str, Any],
) -> bool:
    """Whether every filter holds for an event's ``properties`` and its person's ``traits``.

    >>> from journeylens.analysis.filters import PropertyFilter as F
    >>> filters_match([F(property="total", operator="gt", value=50)], {"total": 80}, {})
    True
    """
    return all(_holds(flt, _text_of(flt, properties, traits)) for flt in filters)


def condition_holds(
    condition: SplitCondition,
    traits: Mapping[str, Any],
    scores: Mapping[str, float],
    seen: Sequence[str],
) -> bool:
    """Whether a split condition holds for a person: a trait filter on ``traits``, a score
    comparison on ``scores`` (a missing score fails), or an event condition whose key is in
    ``seen`` (the keys the instance recorded since entry).

    Returns:
        True when the condition holds.

    >>> condition_holds(ScoreCondition(model="churn", value=0.5), {}, {"churn": 0.8}, ())
    True
    """
    if isinstance(condition, TraitCondition):
        return _holds(condition, property_text(traits, condition.property))
    if isinstance(condition, ScoreCondition):
        score = scores.get(condition.model)
        if score is None:
            return False
        return {
            "gt": score > condition.value,
            "gte": score >= condition.value,
            "lt": score < condition.value,
            "lte": score <= condition.value,
        }[condition.operator]
    return condition.key in seen


def _text_of(
    flt: PropertyFilter, properties: Mapping[str, Any], traits: Mapping[str, Any]
) -> str | None:
    if flt.source == "person":
        return property_text(traits, flt.property)
    if flt.source == "group":
        return None
    return property_text(properties, flt.property.removeprefix("properties."))


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _holds(flt: PropertyFilter, text: str | None) -> bool:
    op, value = flt.operator, flt.value
    if op == "is_set":
        return text is not None
    if op == "is_not_set":
        return text is None
    if op in {"gt", "gte", "lt", "lte"}:
        number, bound = _number(text), float(value)  # type: ignore[arg-type]
        if number is None:
            return False
        return {
            "gt": number > bound,
            "gte": number >= bound,
            "lt": number < bound,
            "lte": number <= bound,
        }[op]
    if op in {"exact", "is_not"}:
        hit = text is not None and _equals_any(text, value if isinstance(value, list) else [value])
        return hit if op == "exact" else not hit
    if op in {"icontains", "not_icontains"}:
        hit = text is not None and str(value).lower() in text.lower()
        return hit if op == "icontains" else not hit
    hit = text is not None and re.search(str(value), text) is not None
    return hit if op == "regex" else not hit


def _equals_any(text: str, values: list[Any]) -> bool:
    number = _number(text)
    for value in values:
        if isinstance(value, bool):
            if text == ("true" if value else "false"):
                return True
        elif isinstance(value, int | float):
            if number is not None and number == float(value):
                return True
        elif text == str(value):
            return True
    return False
