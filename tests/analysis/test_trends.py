"""Trends give a metric per period for each series, broken down and against the range before."""

from __future__ import annotations

import json
import math

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeylens as jl
from journeylens.analysis.trends import TrendsSpec, trends
from tests.analysis.conftest import by_true_person

DAY = 86400

ORDERS = [
    {"person": "a", "event": "buy", "ts": 10, "revenue": 5.0, "properties": {"items": 1}},
    {"person": "a", "event": "buy", "ts": 20, "revenue": 7.0, "properties": {"items": "3"}},
    {"person": "b", "event": "buy", "ts": 30, "revenue": 3.0, "properties": {"items": "n/a"}},
    {"person": "b", "event": "view", "ts": 2 * DAY},
    {"person": "c", "event": "buy", "ts": 3 * DAY, "revenue": 10.0, "properties": {"items": 2}},
    {"event": "buy", "ts": 3 * DAY, "revenue": 99.0},
]


def values(result, **where):
    lines = [
        line
        for line in result.lines
        if all(getattr(line, key) == value for key, value in where.items())
    ]
    assert len(lines) == 1, lines
    return lines[0].values


def test_counts_of_events_and_persons_fill_empty_periods_with_zeros(make_events):
    spec = TrendsSpec(series=["buy", {"event": "buy", "math": "persons"}])
    result = trends(make_events(ORDERS), spec)
    assert [p.date().isoformat() for p in result.periods] == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    assert values(result, series=0) == (3, 0, 0, 1)
    assert values(result, series=1) == (2, 0, 0, 1)
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("math_", "prop", "expected"),
    [
        ("sum", "revenue", (15.0, 0.0, 0.0, 10.0)),
        ("avg", "revenue", (5.0, None, None, 10.0)),
        ("min", "revenue", (3.0, None, None, 10.0)),
        ("max", "revenue", (7.0, None, None, 10.0)),
        ("median", "revenue", (5.0, None, None, 10.0)),
        # A properties key; text that is not a number is left out.
        ("sum", "items", (4.0, 0.0, 0.0, 2.0)),
        ("avg", "items", (2.0, None, None, 2.0)),
    ],
)
def test_property_math_summarises_the_numbers_of_each_period(make_events, math_, prop, expected):
    spec = TrendsSpec(series=[{"event": "buy", "math": math_, "property": prop}])
    assert values(trends(make_events(ORDERS), spec), series=0) == expected


def test_weeks_start_on_monday_and_months_on_the_first(make_events):
    events = make_events(
        [
            {"person": "a", "event": "buy", "ts": "2024-01-07 23:59"},
            {"person": "a", "event": "buy", "ts": "2024-01-08 00:00"},
            {"person": "a", "event": "buy", "ts": "2024-02-29 23:00"},
        ]
    )
    weeks = trends(events, TrendsSpec(series=["buy"], interval="week"))
    assert weeks.periods[0].date().isoformat() == "2024-01-01"
    assert values(weeks, series=0)[:2] == (1, 1)
    months = trends(events, TrendsSpec(series=["buy"], interval="month"))
    assert [p.date().isoformat() for p in months.periods] == ["2024-01-01", "2024-02-01"]
    assert values(months, series=0) == (2, 1)


def test_a_breakdown_keeps_the_top_values_and_folds_the_rest_into_other(make_events):
    rows = [
        {"person": "a", "event": "buy", "ts": 0, "channel": "Email"},
        {"person": "a", "event": "buy", "ts": 1, "channel": "Email"},
        {"person": "a", "event": "buy", "ts": 2, "channel": "Email"},
        {"person": "b", "event": "buy", "ts": 3, "channel": "Direct"},
        {"person": "b", "event": "buy", "ts": 4, "channel": "Direct"},
        {"person": "c", "event": "buy", "ts": 5, "channel": "SMS"},
        {"person": "c", "event": "buy", "ts": 6, "channel": "Push"},
        {"person": "d", "event": "buy", "ts": 7},
        {"person": "d", "event": "buy", "ts": 8},
    ]
    spec = TrendsSpec(
        series=["buy", {"event": "buy", "math": "persons"}],
        breakdown={"property": "channel", "limit": 2},
    )
    result = trends(make_events(rows), spec)
    order = [line.breakdown_value for line in result.lines if line.series == 0]
    # Email (3) first; Direct and "not set" tie on 2 and go by value: "Direct" before the
    # engine's stand-in for unset; SMS and Push fold into Other.
    assert order == ["Email", "Direct", "Other"]
    assert values(result, series=0, breakdown_value="Other") == (4,)
    # c used both SMS and Push and d had no channel: one person each in Other.
    assert values(result, series=1, breakdown_value="Other") == (2,)
    assert result.breakdown == "channel"
    wide_spec = TrendsSpec(series=["buy"], breakdown={"property": "channel", "limit": 10})
    wide = trends(make_events(rows), wide_spec)
    assert values(wide, series=0, breakdown_value=None) == (2,)
    assert sum(line.values[0] for line in wide.lines if line.series == 0) == 9


def test_a_breakdown_by_a_person_trait_reads_identify_calls(make_events):
    rows = [
        {"person": "a", "type": "identify", "ts": 0, "traits": {"plan": "pro"}},
        {"person": "a", "event": "buy", "ts": 5, "revenue": 4.0},
        {"person": "b", "event": "buy", "ts": 5, "revenue": 1.0},
    ]
    spec = TrendsSpec(
        series=[{"event": "buy", "math": "sum", "property": "revenue"}],
        breakdown={"property": "plan", "source": "person"},
    )
    result = trends(make_events(rows), spec)
    assert values(result, breakdown_value="pro") == (4.0,)
    assert values(result, breakdown_value=None) == (1.0,)


def test_compare_lines_up_the_previous_range_by_offset(make_events):
    rows = [
        {"person": "a", "event": "buy", "ts": 0},
        {"person": "a", "event": "buy", "ts": 2 * DAY},
        {"person": "a", "event": "buy", "ts": 3 * DAY},
        {"person": "b", "event": "buy", "ts": 5 * DAY},
        {"person": "b", "event": "buy", "ts": 5 * DAY + 1},
    ]
    spec = TrendsSpec(
        series=["buy"], compare=True, date_from="2024-01-04", date_to="2024-01-06 12:00"
    )
    result = trends(make_events(rows), spec)
    assert [p.day for p in result.periods] == [4, 5, 6]
    assert [p.day for p in result.previous_periods] == [1, 2, 3]
    assert values(result, compare="current") == (1, 0, 2)
    assert values(result, compare="previous") == (1, 0, 1)
    frame = result.to_frame()
    assert frame[frame["compare"] == "previous"].offset.tolist() == [0, 1, 2]


def test_compare_over_months_goes_back_as_many_months(make_events):
    rows = [
        {"person": "a", "event": "buy", "ts": "2023-12-31 10:00"},
        {"person": "a", "event": "buy", "ts": "2024-02-01 10:00"},
        {"person": "a", "event": "buy", "ts": "2024-03-01 10:00"},
    ]
    spec = TrendsSpec(
        series=["buy"],
        interval="month",
        compare=True,
        date_from="2024-02-01",
        date_to="2024-03-01",
    )
    result = trends(make_events(rows), spec)
    assert [p.month for p in result.previous_periods] == [12, 1]
    assert values(result, compare="previous") == (1, 0)
    assert values(result, compare="current") == (1, 1)


def test_nothing_matching_gives_an_empty_result_with_a_warning(make_events):
    result = trends(make_events(ORDERS), TrendsSpec(series=["nope"]))
    assert [w.code for w in result.warnings] == ["NO_EVENTS"]
    assert result.to_frame().empty
    json.dumps(result.to_dict(), allow_nan=False)
    result.figure()
    ranged = trends(
        make_events(ORDERS),
        TrendsSpec(series=["nope"], date_from="2024-01-01", date_to="2024-01-02"),
    )
    assert values(ranged, series=0) == (0, 0)
    assert [w.code for w in ranged.warnings] == ["NO_EVENTS"]


def test_the_result_is_json_ready_and_drawn_from_its_values(make_events):
    spec = TrendsSpec(series=[{"event": "buy", "math": "avg", "property": "revenue"}], compare=True)
    result = trends(make_events(ORDERS), spec)
    body = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert body["lines"][0]["values"] == [5.0, None, None, 10.0]
    assert body["lines"][0]["title"] == "buy · avg of revenue"
    assert body["previous_periods"][0] == "2023-12-28T00:00:00+00:00"
    figure = result.figure()
    assert [trace.line.dash for trace in figure.data] == [None, "dash"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"series": []}, "at least 1 item"),
        ({"series": [{"event": "buy", "math": "sum"}]}, "needs 'property'"),
        ({"series": [{"event": "buy", "property": "revenue"}]}, "remove 'property'"),
        ({"series": [{"event": "buy", "math": "p99", "property": "x"}]}, "'median'"),
        ({"series": ["buy"], "breakdown": {"property": "channel", "limit": 0}}, "greater than"),
        ({"series": ["buy"], "breakdown": {"property": ""}}, "at least 1 character"),
        ({"series": ["buy"], "compare": "yesterday"}, "valid boolean"),
        ({"series": ["buy"], "smoothing": 7}, "Extra inputs are not permitted"),
    ],
)
def test_bad_specs_are_refused_with_a_clear_message(fields, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        TrendsSpec(**fields)


# ---------------------------------------------------------------- properties

ROWS = st.lists(
    st.tuples(
        st.sampled_from("abc"),
        st.sampled_from(["x", "y", "z", None]),
        st.integers(0, 4),
        st.integers(0, 100),
    ),
    max_size=14,
)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS, limit=st.integers(1, 3))
def test_breakdown_lines_add_up_to_the_unbroken_line_whatever_the_row_order(
    make_events, rows, limit
):
    table = [
        {"person": p, "event": "buy", "ts": d * DAY, "channel": c, "revenue": float(r)}
        for p, c, d, r in rows
    ]
    series = ["buy", {"event": "buy", "math": "sum", "property": "revenue"}]
    spec = TrendsSpec(series=series, date_from="2024-01-01", date_to="2024-01-05")
    whole = trends(make_events(table), spec)
    split_spec = TrendsSpec(
        series=series,
        date_from="2024-01-01",
        date_to="2024-01-05",
        breakdown={"property": "channel", "limit": limit},
    )
    split = trends(make_events(table), split_spec)
    assert values(whole, series=0) == tuple(sum(1 for *_, d, _ in rows if d == n) for n in range(5))
    for i in (0, 1):
        lines = [line.values for line in split.lines if line.series == i]
        assert len(lines) <= limit + 1
        summed = tuple(sum(column) for column in zip(*lines, strict=True)) if lines else ()
        assert all(
            math.isclose(a, b) for a, b in zip(summed, values(whole, series=i), strict=False)
        )
    assert trends(make_events(table[::-1]), split_spec) == split


# ---------------------------------------------------------------- planted truth and engines


def test_revenue_per_person_is_the_revenue_the_simulation_planted():
    sim = jl.simulate(customers=300, days=21, seed=9)
    events = by_true_person(sim)
    revenue = {"event": "Order Completed", "math": "sum", "property": "revenue"}
    spec = TrendsSpec(
        series=[revenue], interval="week", breakdown={"property": "person_id", "limit": 1000}
    )
    result = trends(events, spec)
    planted = {
        str(p["person_key"]): p["revenue"] for p in sim.truth.persons.to_pylist() if p["revenue"]
    }
    found = {line.breakdown_value: sum(line.values) for line in result.lines}
    assert found.keys() == planted.keys()
    assert all(math.isclose(found[k], planted[k], abs_tol=1e-6) for k in planted)
    daily = trends(events, TrendsSpec(series=[revenue]))
    assert math.isclose(sum(daily.lines[0].values), sum(planted.values()), rel_tol=1e-9)


@pytest.mark.spark
def test_trends_are_the_same_on_spark(make_events, make_spark_events):
    rows = [*ORDERS, {"person": "c", "event": "buy", "ts": 3 * DAY + 5, "revenue": 4.0}]
    rows = [dict(row, channel="Email" if row.get("person") == "a" else None) for row in rows]
    duck, spark = make_events(rows), make_spark_events(rows)
    spec = TrendsSpec(
        series=[
            "buy",
            {"event": "buy", "math": "persons"},
            {"event": "buy", "math": "median", "property": "revenue"},
            {"event": "buy", "math": "avg", "property": "items"},
        ],
        breakdown={"property": "channel", "limit": 1},
        compare=True,
    )
    assert trends(spark, spec) == trends(duck, spec)
