"""Lifecycle sorts active persons into new, returning and resurrecting, and counts the dormant."""

from __future__ import annotations

import json

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeylens.analysis.lifecycle import LifecycleSpec, lifecycle

DAY = 86400


def statuses(result):
    return {
        "new": result.new,
        "returning": result.returning,
        "resurrecting": result.resurrecting,
        "dormant": result.dormant,
    }


def test_a_gap_makes_a_person_dormant_then_resurrecting(make_events):
    events = make_events([{"person": "a", "event": "go", "ts": d * DAY} for d in (0, 1, 3)])
    result = lifecycle(events, LifecycleSpec(event="go", date_to="2024-01-05"))
    assert statuses(result) == {
        "new": (1, 0, 0, 0, 0),
        "returning": (0, 1, 0, 0, 0),
        "resurrecting": (0, 0, 0, 1, 0),
        "dormant": (0, 0, -1, 0, -1),
    }
    assert result.active == (1, 1, 0, 1, 0)


def test_new_means_first_activity_ever_not_first_in_the_range(make_events):
    events = make_events(
        [
            {"person": "a", "event": "go", "ts": 0},
            {"person": "a", "event": "go", "ts": 5 * DAY},
            {"person": "b", "event": "go", "ts": 4 * DAY},
            {"person": "b", "event": "go", "ts": 5 * DAY},
            {"person": "c", "event": "go", "ts": 5 * DAY},
        ]
    )
    spec = LifecycleSpec(event="go", date_from="2024-01-06", date_to="2024-01-06")
    result = lifecycle(events, spec)
    assert statuses(result) == {
        "new": (1,),
        "returning": (1,),
        "resurrecting": (1,),
        "dormant": (0,),
    }


def test_someone_active_just_before_the_range_is_dormant_in_its_first_period(make_events):
    events = make_events([{"person": "a", "event": "go", "ts": 0}])
    spec = LifecycleSpec(event="go", date_from="2024-01-02", date_to="2024-01-03")
    result = lifecycle(events, spec)
    assert result.dormant == (-1, 0)
    assert result.active == (0, 0)
    assert result.warnings == ()


def test_periods_without_activity_are_reported_with_zeros(make_events):
    events = make_events(
        [{"person": "a", "event": "go", "ts": 0}, {"person": "b", "event": "go", "ts": 9 * DAY}]
    )
    result = lifecycle(events, LifecycleSpec(event="go"))
    assert len(result.periods) == 10
    assert result.new == (1, 0, 0, 0, 0, 0, 0, 0, 0, 1)
    assert result.dormant == (0, -1, 0, 0, 0, 0, 0, 0, 0, 0)
    frame = result.to_frame()
    assert list(frame.columns) == [
        "period",
        "new",
        "returning",
        "resurrecting",
        "dormant",
        "active",
    ]
    assert frame.active.sum() == 2


def test_consecutive_weeks_across_a_weekend_are_returning(make_events):
    events = make_events(
        [
            {"person": "a", "event": "go", "ts": "2024-01-07 23:00"},
            {"person": "a", "event": "go", "ts": "2024-01-08 01:00"},
            {"person": "a", "event": "go", "ts": "2024-01-08 02:00"},
            {"person": "b", "event": "go", "ts": "2024-01-01 00:00"},
            {"person": "b", "event": "go", "ts": "2024-01-31 00:00"},
        ]
    )
    weeks = lifecycle(events, LifecycleSpec(event="go", interval="week"))
    assert [p.date().isoformat() for p in weeks.periods][:2] == ["2024-01-01", "2024-01-08"]
    assert weeks.new == (2, 0, 0, 0, 0)
    assert weeks.returning == (0, 1, 0, 0, 0)
    assert weeks.dormant == (0, -1, -1, 0, 0)
    assert weeks.resurrecting == (0, 0, 0, 0, 1)
    months = lifecycle(events, LifecycleSpec(event="go", interval="month"))
    assert statuses(months) == {
        "new": (2,),
        "returning": (0,),
        "resurrecting": (0,),
        "dormant": (0,),
    }


def test_activity_after_the_range_does_not_change_it(make_events):
    events = make_events([{"person": "a", "event": "go", "ts": d * DAY} for d in (0, 2, 3)])
    result = lifecycle(events, LifecycleSpec(event="go", date_to="2024-01-02 10:00"))
    assert result.dormant == (0, -1)
    assert result.resurrecting == (0, 0)


def test_only_matching_behaviour_by_persons_counts(make_events):
    events = make_events(
        [
            {"person": "a", "event": "go", "ts": 0, "properties": {"plan": "pro"}},
            {"person": "b", "event": "go", "ts": 0, "properties": {"plan": "free"}},
            {"person": "c", "type": "identify", "ts": 0, "traits": {"plan": "pro"}},
            {"event": "go", "ts": 0, "properties": {"plan": "pro"}},
        ]
    )
    spec = LifecycleSpec(event={"where": [{"property": "plan", "value": "pro"}]})
    assert lifecycle(events, spec).new == (1,)


def test_nothing_matching_gives_an_empty_result_with_a_warning(make_events):
    events = make_events([{"person": "a", "event": "other", "ts": 0}])
    result = lifecycle(events, LifecycleSpec(event="go"))
    assert [w.code for w in result.warnings] == ["NO_EVENTS"]
    assert result.to_frame().empty
    json.dumps(result.to_dict(), allow_nan=False)
    assert len(result.figure().data) == 4


def test_the_result_is_json_ready(make_events):
    events = make_events([{"person": "a", "event": "go", "ts": 0}])
    body = lifecycle(events, LifecycleSpec(event="go", date_to="2024-01-02")).to_dict()
    assert json.loads(json.dumps(body, allow_nan=False))["periods"][1] == {
        "period": "2024-01-02T00:00:00+00:00",
        "new": 0,
        "returning": 0,
        "resurrecting": 0,
        "dormant": -1,
        "active": 0,
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"interval": "year"}, "'hour', 'day', 'week' or 'month'"),
        ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "date_from must not be after"),
        ({"event": {"where": [{"property": "plan", "operator": "gt", "value": "x"}]}}, "number"),
        ({"events": "go"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_specs_are_refused_with_a_clear_message(fields, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        LifecycleSpec(**fields)


# ---------------------------------------------------------------- a published reference value


def test_daily_lifecycle_matches_posthogs_published_example(make_events):
    # PostHog's lifecycle test "test_lifecycle_query_group_0" (posthog/hogql_queries/insights/
    # test/test_lifecycle_query_runner.py) counts one organisation, active on these days of
    # January 2020 through four of its people; here the organisation is the unit.
    days = [11, 12, 13, 15, 17, 19, 9, 12, 12, 15, 18]
    rows = [{"person": "org:5", "event": "$pageview", "ts": f"2020-01-{d:02d} 12:00"} for d in days]
    spec = LifecycleSpec(event="$pageview", date_from="2020-01-09", date_to="2020-01-19")
    assert statuses(lifecycle(make_events(rows), spec)) == {
        "new": (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        "returning": (0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1),
        "resurrecting": (0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0),
        "dormant": (0, -1, 0, 0, 0, -1, 0, -1, 0, 0, 0),
    }


# ---------------------------------------------------------------- properties

ACTIVITY = st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 7)), max_size=16)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(activity=ACTIVITY, first=st.integers(0, 4))
def test_statuses_partition_the_active_persons_and_explain_the_dormant(
    make_events, activity, first
):
    rows = [{"person": p, "event": "go", "ts": d * DAY + 7} for p, d in activity]
    spec = LifecycleSpec(event="go", date_from=f"2024-01-0{first + 1}", date_to="2024-01-08 12:00")
    result = lifecycle(make_events(rows), spec)
    active = {d: {p for p, e in activity if e == d} for d in range(-1, 8)}
    days = range(first, 8)
    assert result.active == tuple(len(active[d]) for d in days)
    assert result.new == tuple(
        len({p for p in active[d] if min(e for q, e in activity if q == p) == d}) for d in days
    )
    assert result.returning == tuple(len(active[d] & active[d - 1]) for d in days)
    assert result.dormant == tuple(-len(active[d - 1] - active[d]) for d in days)
    assert lifecycle(make_events(rows[::-1]), spec) == result


# ---------------------------------------------------------------- planted truth and engines


def test_churners_turn_dormant_by_their_planted_churn_day_and_stay_away(churn_events):
    churners, events = churn_events
    # Only what people do themselves: messages keep being delivered after a churn and refunds
    # are server-side.
    events = events.filter(~events.event.re_search("Delivered$|^Order Refunded$"))
    spec = LifecycleSpec(date_from="2026-01-01", date_to="2026-01-28")
    for day in (11, 20):
        group = [str(c["person_key"]) for c in churners if c["churn_day"] == day]
        result = lifecycle(events.filter(events.person_id.isin(group)), spec)
        assert sum(result.active[:day]) > 0
        assert result.active[day:] == (0,) * (28 - day)
        # Those active on the day before churning show up as dormant on the churn day.
        assert result.dormant[day] == -result.active[day - 1]
        assert all(d == 0 for d in result.dormant[day + 1 :])
        # Every person of the group who was ever active was new once, and went dormant.
        assert sum(result.new) == -sum(result.dormant) - sum(result.resurrecting)


@pytest.mark.spark
def test_lifecycle_is_the_same_on_spark(make_events, make_spark_events):
    rows = [
        {"person": "a", "event": "go", "ts": "2024-01-01 10:00"},
        {"person": "a", "event": "go", "ts": "2024-01-02 10:00"},
        {"person": "a", "event": "go", "ts": "2024-01-09 10:00"},
        {"person": "b", "event": "go", "ts": "2024-01-07 23:59"},
        {"person": "b", "event": "go", "ts": "2024-01-08 00:00"},
        {"person": "c", "event": "go", "ts": "2024-01-20 00:00"},
        {"person": "c", "type": "page", "event": "Home", "ts": "2024-01-21 00:00"},
    ]
    duck, spark = make_events(rows), make_spark_events(rows)
    # One spec (Spark queries cost seconds): days, so gaps and weekends both show, and the
    # range taken from the data.
    spec = LifecycleSpec(interval="day")
    assert lifecycle(spark, spec) == lifecycle(duck, spec)
