"""Rule segments: event counts in windows before as_of, "did not", traits, and/or trees."""

from __future__ import annotations

import json
import random

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeylens.analysis.segments import SegmentSpec, segment

DAY = 86_400

ROWS = [
    {"person": "a", "type": "identify", "ts": 0, "traits": {"plan": "pro"}},
    {"person": "a", "event": "Product Added", "ts": 25 * DAY, "properties": {"price": 30}},
    {"person": "a", "event": "Product Added", "ts": 27 * DAY, "properties": {"price": 5}},
    {"person": "b", "event": "Product Added", "ts": 26 * DAY, "properties": {"price": 80}},
    {"person": "b", "event": "Order Completed", "ts": 28 * DAY},
    {"person": "c", "event": "Product Added", "ts": 10 * DAY, "properties": {"price": 12}},
    {"person": "c", "type": "identify", "ts": 11 * DAY, "traits": {"plan": "free"}},
    {"person": "c", "type": "identify", "ts": 29 * DAY, "traits": {"plan": "pro"}},
    {"person": "d", "event": "Home", "type": "page", "ts": 30 * DAY},
    {"event": "Product Added", "ts": 30 * DAY},
]


def members(events, rule, **spec):
    return list(segment(events, SegmentSpec.model_validate({"rule": rule, **spec})).person_ids)


def added(**extra):
    return {"kind": "event", "event": "Product Added", **extra}


def test_added_to_cart_in_the_last_7_days_and_not_purchased(make_events):
    rule = {
        "kind": "all",
        "conditions": [
            added(within="7d"),
            {"kind": "event", "event": "Order Completed", "within": "7d", "did": False},
        ],
    }
    result = segment(make_events(ROWS), SegmentSpec.model_validate({"rule": rule}))
    assert result.person_ids == ("a",)
    # Persons a, b, c and d; the event without a person is nobody.
    assert (result.count, result.persons, result.share) == (1, 4, 0.25)


def test_windows_are_relative_to_as_of(make_events):
    events = make_events(ROWS)
    # as_of defaults to the latest event, day 30: the last 7 days start after day 23.
    assert members(events, added(within="7d")) == ["a", "b"]
    assert members(events, added(within="7d"), as_of="2024-01-12T00:00:00Z") == ["c"]
    assert members(events, added(within="21d")) == ["a", "b", "c"]
    # Events after as_of do not count, and persons who only appear after it are not persons.
    early = segment(events, SegmentSpec(rule=added(), as_of="2024-01-12T00:00:00Z"))
    assert (early.person_ids, early.persons) == (("c",), 2)


@pytest.mark.parametrize(
    ("operator", "count", "expected"),
    [
        ("gte", 2, ["a"]),
        ("gt", 1, ["a"]),
        ("eq", 1, ["b", "c"]),
        ("lte", 1, ["b", "c", "d"]),
        ("lt", 1, ["d"]),
        ("eq", 0, ["d"]),
    ],
)
def test_count_operators_compare_the_number_of_times(make_events, operator, count, expected):
    assert members(make_events(ROWS), added(operator=operator, count=count)) == expected


def test_did_not_holds_for_people_who_never_did_it(make_events):
    events = make_events(ROWS)
    assert members(events, added(did=False)) == ["d"]
    assert members(events, added(operator="gte", count=2, did=False)) == ["b", "c", "d"]


def test_event_property_filters_narrow_the_counted_events(make_events):
    pricey = added(filters=[{"property": "price", "operator": "gte", "value": 20}])
    assert members(make_events(ROWS), pricey) == ["a", "b"]
    two_pricey = {**pricey, "count": 2}
    assert members(make_events(ROWS), two_pricey) == []


def test_trait_conditions_use_the_latest_trait_as_of(make_events):
    events = make_events(ROWS)
    pro = {"kind": "trait", "property": "plan", "value": "pro"}
    assert members(events, pro) == ["a", "c"]
    assert members(events, pro, as_of="2024-01-20T00:00:00Z") == ["a"]
    not_pro = {"kind": "trait", "property": "plan", "operator": "is_not", "value": "pro"}
    assert members(events, not_pro) == ["b", "d"]


def test_all_and_any_nest(make_events):
    rule = {
        "kind": "any",
        "conditions": [
            {"kind": "event", "event": "Order Completed"},
            {
                "kind": "all",
                "conditions": [
                    {"kind": "trait", "property": "plan", "value": "pro"},
                    added(within="7d", did=False),
                ],
            },
        ],
    }
    assert members(make_events(ROWS), rule) == ["b", "c"]


def test_an_empty_table_gives_no_members_and_a_warning(make_events):
    result = segment(make_events([]), SegmentSpec(rule=added()))
    assert (result.person_ids, result.persons, result.share) == ((), 0, None)
    assert [w.code for w in result.warnings] == ["NO_PERSONS"]
    assert json.loads(json.dumps(result.to_dict()))["share"] is None
    result.figure()


def test_the_result_is_json_ready(make_events):
    result = segment(make_events(ROWS), SegmentSpec(rule=added(within="7d")))
    assert result.to_dict() == {
        "as_of": "2024-01-31T00:00:00+00:00",
        "person_ids": ["a", "b"],
        "count": 2,
        "persons": 4,
        "share": 0.5,
        "warnings": [],
    }
    assert result.to_frame().person_id.tolist() == ["a", "b"]
    assert len(result.figure().data) == 2


def test_a_spec_round_trips_through_json():
    spec = SegmentSpec(
        rule={
            "kind": "all",
            "conditions": [
                added(within="7d"),
                {"kind": "trait", "property": "plan", "value": "pro"},
            ],
        }
    )
    assert SegmentSpec.model_validate_json(spec.model_dump_json()) == spec


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"kind": "all", "conditions": []}, "at least 1 item"),
        ({"kind": "maybe"}, "does not match any of the expected tags"),
        (added(count=-1), "greater than or equal to 0"),
        (added(operator="about"), "Input should be"),
        (added(within="lately"), "within"),
        ({"kind": "trait", "property": "plan", "source": "event", "value": "x"}, "person"),
        ({"kind": "event", "event": ""}, "at least 1 character"),
    ],
)
def test_a_bad_rule_says_what_is_wrong(rule, problem):
    with pytest.raises(pydantic.ValidationError, match=problem):
        SegmentSpec.model_validate({"rule": rule})


LEAVES = [
    added(within="7d"),
    added(operator="gte", count=2),
    {"kind": "event", "event": "Order Completed", "did": False},
    {"kind": "trait", "property": "plan", "value": "pro"},
    {"kind": "event", "event": "Home"},
]


# Members of each leaf on the rows as written, computed once: shuffled tables must agree.
_LEAF_MEMBERS: dict[int, set[str]] = {}


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chosen=st.lists(st.integers(0, len(LEAVES) - 1), min_size=1, max_size=3), seed=st.integers())
def test_any_contains_each_child_and_each_child_contains_all(make_events, chosen, seed):
    for i in chosen:
        if i not in _LEAF_MEMBERS:
            _LEAF_MEMBERS[i] = set(members(make_events(ROWS), LEAVES[i]))
    rows = list(ROWS)
    random.Random(seed).shuffle(rows)
    events = make_events(rows)
    leaves = [LEAVES[i] for i in chosen]
    sets = [_LEAF_MEMBERS[i] for i in chosen]
    anyone = set(members(events, {"kind": "any", "conditions": leaves}))
    everyone = set(members(events, {"kind": "all", "conditions": leaves}))
    for child in sets:
        assert everyone <= child <= anyone
    assert anyone == set().union(*sets)
    assert everyone == set.intersection(*sets)


@pytest.mark.spark
def test_spark_gives_the_same_members_as_duckdb(make_events, make_spark_events):
    rule = {
        "kind": "any",
        "conditions": [
            {
                "kind": "all",
                "conditions": [
                    added(within="7d"),
                    {"kind": "event", "event": "Order Completed", "within": "7d", "did": False},
                ],
            },
            {"kind": "trait", "property": "plan", "value": "free"},
            added(
                filters=[{"property": "price", "operator": "lt", "value": 15}],
                count=1,
                operator="eq",
            ),
        ],
    }
    spec = SegmentSpec(rule=rule)
    duck = segment(make_events(ROWS), spec).to_dict()
    assert duck["person_ids"] == ["a", "c"]
    assert segment(make_spark_events(ROWS), spec).to_dict() == duck
