"""Property filters select the same events on DuckDB and on Spark, PostHog's way."""

from __future__ import annotations

import re

import pydantic
import pytest

from journeylens.analysis.filters import PropertyFilter, filter_events

ROWS = [
    {"person": "a", "type": "identify", "ts": 0, "traits": {"plan": "pro", "seats": 12}},
    {"person": "a", "event": "view", "ts": 10, "properties": {"price": 5, "title": "Red Shoe"}},
    {"person": "b", "event": "view", "ts": 20, "properties": {"price": "7.5"}},
    {"person": "b", "type": "identify", "ts": 30, "traits": {"plan": "free"}},
    {"person": "b", "type": "identify", "ts": 40, "traits": {"plan": "team"}},
    {"person": "c", "event": "view", "ts": 50, "group_id": "acme", "channel": "Email"},
    {"person": "c", "type": "group", "ts": 5, "group_id": "acme", "traits": {"tier": "gold"}},
    {
        "person": "d",
        "event": "view",
        "ts": 60,
        "context": {"groupId": "acme", "page": {"path": "/x"}},
    },
]

CASES = [
    ({"property": "price", "operator": "gt", "value": 6}, ["m00002"]),
    ({"property": "price", "operator": "lte", "value": 5}, ["m00001"]),
    ({"property": "price", "value": 5}, ["m00001"]),
    ({"property": "price", "value": [5, "7.5"]}, ["m00001", "m00002"]),
    ({"property": "title", "operator": "icontains", "value": "red"}, ["m00001"]),
    ({"property": "title", "operator": "regex", "value": "^Red"}, ["m00001"]),
    ({"property": "channel", "value": "Email"}, ["m00005"]),
    ({"property": "context.page.path", "value": "/x"}, ["m00007"]),
    ({"property": "price", "operator": "is_set"}, ["m00001", "m00002"]),
]


def selected(events, flt):
    # Person and group traits come from the whole table, so filter before narrowing to tracks.
    rows = filter_events(events, [PropertyFilter(**flt)])
    rows = rows.filter(rows.type == "track")
    return sorted(rows.message_id.to_list())


@pytest.mark.parametrize(("flt", "expected"), CASES)
def test_event_property_filters_select_the_matching_events(make_events, flt, expected):
    assert selected(make_events(ROWS), flt) == expected


def test_person_filters_use_the_latest_trait_of_the_person(make_events):
    events = make_events(ROWS)
    assert selected(events, {"property": "plan", "source": "person", "value": "team"}) == ["m00002"]
    # "is not" keeps people who have no plan at all, as PostHog does.
    assert selected(
        events, {"property": "plan", "source": "person", "operator": "is_not", "value": "team"}
    ) == ["m00001", "m00005", "m00007"]


def test_group_filters_read_the_group_named_by_the_event_or_its_context(make_events):
    events = make_events(ROWS)
    assert selected(events, {"property": "tier", "source": "group", "value": "gold"}) == [
        "m00005",
        "m00007",
    ]


def test_negative_operators_let_an_unset_property_through(make_events):
    events = make_events(ROWS)
    flt = {"property": "title", "operator": "not_icontains", "value": "shoe"}
    assert selected(events, flt) == ["m00002", "m00005", "m00007"]


@pytest.mark.spark
def test_filters_select_the_same_events_on_spark(make_spark_events):
    events = make_spark_events(ROWS)
    for flt, expected in CASES:
        assert selected(events, flt) == expected, flt
    assert selected(events, {"property": "tier", "source": "group", "value": "gold"}) == [
        "m00005",
        "m00007",
    ]


@pytest.mark.parametrize(
    ("flt", "problem"),
    [
        ({"property": "price", "operator": "gt", "value": "big"}, "compares numbers"),
        ({"property": "price", "operator": "is_set", "value": 1}, "takes no value"),
        ({"property": "price", "operator": "exact"}, "needs a value"),
        ({"property": "t", "operator": "regex", "value": "("}, "regular expression"),
        ({"property": "t", "operator": "like", "value": "x"}, "Input should be"),
        ({"property": " ", "value": "x"}, "must name a property"),
    ],
)
def test_a_bad_filter_says_what_is_wrong(flt, problem):
    with pytest.raises(pydantic.ValidationError, match=re.escape(problem)):
        PropertyFilter(**flt)
