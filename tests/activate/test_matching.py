"""Filters on one event in Python mean what the Ibis filters mean on a table."""

from __future__ import annotations

import json
from typing import Any

import ibis

from journeylens.activate.journey import EventSeenCondition, ScoreCondition, TraitCondition
from journeylens.activate.matching import condition_holds, filters_match, property_text
from journeylens.analysis.filters import PropertyFilter, with_match

ROWS: list[dict[str, Any]] = [
    {"price": 80, "category": "Home", "gift": True, "code": "SAVE10"},
    {"price": 20.5, "category": "beauty", "gift": False},
    {"price": "n/a", "category": ""},
    {"cart": {"items": 3}},
    {},
]
FILTERS = [
    PropertyFilter(property="price", operator="gt", value=50),
    PropertyFilter(property="price", operator="lte", value=20.5),
    PropertyFilter(property="price", operator="exact", value=[80, 20.5]),
    PropertyFilter(property="category", operator="exact", value="Home"),
    PropertyFilter(property="category", operator="is_not", value="Home"),
    PropertyFilter(property="category", operator="icontains", value="HOM"),
    PropertyFilter(property="category", operator="not_icontains", value="hom"),
    PropertyFilter(property="code", operator="regex", value="^SAVE[0-9]+$"),
    PropertyFilter(property="code", operator="not_regex", value="SAVE"),
    PropertyFilter(property="gift", operator="exact", value=True),
    PropertyFilter(property="category", operator="is_set"),
    PropertyFilter(property="category", operator="is_not_set"),
    PropertyFilter(property="cart.items", operator="gte", value=3),
]


def test_every_operator_agrees_with_the_ibis_filters_row_by_row() -> None:
    table = ibis.memtable({"properties": [json.dumps(r) for r in ROWS], "row": range(len(ROWS))})
    table = table.mutate(properties=table.properties.cast("json"))
    for i, flt in enumerate(FILTERS):
        marked = with_match(table, [flt], f"hit{i}").order_by("row")
        expected = marked[f"hit{i}"].to_pyarrow().to_pylist()
        got = [filters_match([flt], row, {}) for row in ROWS]
        assert got == expected, flt


def test_person_filters_read_traits_and_group_filters_count_as_unset() -> None:
    plan = PropertyFilter(property="plan", value="pro", source="person")
    assert filters_match([plan], {"plan": "free"}, {"plan": "pro"})
    assert not filters_match([plan], {"plan": "pro"}, {})
    group = PropertyFilter(property="tier", operator="is_not_set", source="group")
    assert filters_match([group], {"tier": "gold"}, {})


def test_property_text_reads_values_as_the_analyses_do() -> None:
    values = {"n": 2, "f": 2.5, "b": False, "s": "", "o": {"a": [1]}, "props": {"x": "y"}}
    assert [property_text(values, k) for k in ("n", "f", "b", "s", "o", "props.x", "none")] == [
        "2",
        "2.5",
        "false",
        None,
        '{"a":[1]}',
        "y",
        None,
    ]


def test_split_conditions_read_traits_scores_and_seen_events() -> None:
    trait = TraitCondition(property="vip", value=True)
    score = ScoreCondition(model="churn", operator="lt", value=0.5)
    seen = EventSeenCondition(event="Order Completed")
    assert condition_holds(trait, {"vip": True}, {}, ())
    assert condition_holds(score, {}, {"churn": 0.2}, ())
    assert not condition_holds(score, {}, {}, ())
    assert condition_holds(seen, {}, {}, (seen.key,))
    assert not condition_holds(seen, {}, {}, ())
