"""Retention counts persons coming back in calendar periods after their cohort, PostHog's way."""

from __future__ import annotations

import json

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeylens.analysis.filters import PropertyFilter
from journeylens.analysis.retention import RetentionSpec, retention

DAY = 86400


def day_spec(**fields):
    fields.setdefault("start_event", "s")
    fields.setdefault("return_event", "r")
    return RetentionSpec(interval="day", **fields)


def test_a_return_just_after_midnight_is_the_next_calendar_period(make_events):
    events = make_events(
        [
            {"person": "a", "event": "s", "ts": "2024-01-01 23:59"},
            {"person": "a", "event": "r", "ts": "2024-01-02 00:01"},
        ]
    )
    result = retention(events, day_spec(total_intervals=3, date_to="2024-01-03"))
    assert result.counts[0] == (1, 1, 0)


def test_weeks_start_on_monday(make_events):
    events = make_events(
        [
            # 2024-01-07 is a Sunday: the Monday after is already week 1.
            {"person": "a", "event": "s", "ts": "2024-01-07 20:00"},
            {"person": "a", "event": "r", "ts": "2024-01-08 08:00"},
            # Monday to Sunday of the same week: no return in week 1.
            {"person": "b", "event": "s", "ts": "2024-01-08 08:00"},
            {"person": "b", "event": "r", "ts": "2024-01-14 22:00"},
        ]
    )
    spec = RetentionSpec(
        start_event="s", return_event="r", interval="week", total_intervals=2, date_to="2024-01-15"
    )
    result = retention(events, spec)
    assert [c.date().isoformat() for c in result.cohorts] == ["2024-01-08", "2024-01-15"]
    assert result.counts == ((1, 0), (0, None))
    earlier = retention(events, spec.model_copy(update={"total_intervals": 3}))
    assert earlier.cohorts[0].date().isoformat() == "2024-01-01"
    assert earlier.counts[0] == (1, 1, 0)


def test_month_periods_follow_the_calendar(make_events):
    events = make_events(
        [
            {"person": "a", "event": "s", "ts": "2024-01-31 12:00"},
            {"person": "a", "event": "r", "ts": "2024-02-01 00:00"},
            {"person": "b", "event": "s", "ts": "2024-01-01 00:00"},
            {"person": "b", "event": "r", "ts": "2024-03-31 23:59"},
        ]
    )
    spec = RetentionSpec(
        start_event="s",
        return_event="r",
        interval="month",
        total_intervals=3,
        date_from="2024-01-15",
        date_to="2024-03-02",
    )
    result = retention(events, spec)
    assert result.cohorts[0].isoformat() == "2024-01-01T00:00:00+00:00"
    assert result.counts == ((2, 1, 1), (0, 0, None), (0, None, None))


def test_first_time_cohorts_use_the_first_start_and_recurring_ones_every_start(make_events):
    events = make_events(
        [
            {"person": "a", "event": "s", "ts": 0},
            {"person": "a", "event": "s", "ts": 2 * DAY},
            {"person": "a", "event": "r", "ts": 3 * DAY},
        ]
    )
    first = retention(events, day_spec(total_intervals=4, date_to="2024-01-04"))
    assert first.counts == (
        (1, 0, 0, 1),
        (0, 0, 0, None),
        (0, 0, None, None),
        (0, None, None, None),
    )
    recurring = retention(
        events, day_spec(total_intervals=4, date_to="2024-01-04", retention_type="recurring")
    )
    assert recurring.counts == (
        (1, 0, 0, 1),
        (0, 0, 0, None),
        (1, 1, None, None),
        (0, None, None, None),
    )


def test_several_returns_in_one_period_count_the_person_once(make_events):
    events = make_events(
        [
            {"person": "a", "event": "s", "ts": 0},
            *({"person": "a", "event": "r", "ts": DAY + 60 * i} for i in range(5)),
            {"person": "b", "event": "s", "ts": 10},
        ]
    )
    result = retention(events, day_spec(total_intervals=2, date_to="2024-01-02"))
    assert result.counts[0] == (2, 1)
    assert result.rates[0] == (1.0, 0.5)


def test_period_zero_is_the_cohort_even_when_nobody_returns_in_it(make_events):
    events = make_events(
        [
            {"person": "a", "event": "s", "ts": 0},
            # A return before the start does not count, nor one in the cohort period itself.
            {"person": "b", "event": "r", "ts": 0},
            {"person": "b", "event": "s", "ts": DAY},
            {"person": "b", "event": "r", "ts": DAY + 5},
        ]
    )
    result = retention(events, day_spec(total_intervals=2, date_to="2024-01-02"))
    assert result.counts == ((1, 0), (1, None))
    assert result.curve == (1.0, 0.0)


def test_a_first_start_before_the_range_keeps_the_person_out_of_first_time_cohorts(make_events):
    events = make_events(
        [
            {"person": "a", "event": "s", "ts": 0},
            {"person": "a", "event": "s", "ts": 5 * DAY},
            {"person": "a", "event": "r", "ts": 6 * DAY},
        ]
    )
    spec = day_spec(total_intervals=2, date_from="2024-01-06", date_to="2024-01-07")
    assert retention(events, spec).counts == ((0, 0), (0, None))
    assert retention(events, spec).warnings[0].code == "NO_COHORTS"
    recurring = retention(events, spec.model_copy(update={"retention_type": "recurring"}))
    assert recurring.counts == ((1, 1), (0, None))


def test_the_range_defaults_to_the_last_periods_of_the_data_and_ignores_later_returns(
    make_events,
):
    events = make_events(
        [
            {"person": "a", "event": "s", "ts": 0},
            {"person": "a", "event": "r", "ts": DAY},
            {"person": "b", "event": "s", "ts": DAY},
            {"person": "b", "event": "r", "ts": 2 * DAY},
            {"person": "c", "event": "s", "ts": 2 * DAY},
            {"person": "c", "event": "r", "ts": 3 * DAY},
        ]
    )
    result = retention(events, day_spec(total_intervals=2))
    assert result.cohorts[0].date().isoformat() == "2024-01-03"
    assert result.counts == ((1, 1), (0, None))
    capped = retention(events, day_spec(total_intervals=3, date_to="2024-01-02 08:00"))
    # Three periods ending on 2 January: the first one (31 December) is empty.
    assert capped.counts == ((0, 0, 0), (1, 1, None), (1, None, None))


def test_the_curve_only_counts_cohorts_old_enough_for_the_period(make_events):
    rows = [{"person": f"a{i}", "event": "s", "ts": 0} for i in range(4)]
    rows += [{"person": f"a{i}", "event": "r", "ts": DAY} for i in range(2)]
    rows += [{"person": "a0", "event": "r", "ts": 2 * DAY}]
    rows += [{"person": "b", "event": "s", "ts": DAY}, {"person": "b", "event": "r", "ts": 2 * DAY}]
    result = retention(make_events(rows), day_spec(total_intervals=3, date_from="2024-01-01"))
    assert result.cohort_sizes == (4, 1, 0)
    assert result.curve_persons == (5, 3, 1)
    assert result.curve_base == (5, 5, 4)
    assert result.curve == (1.0, 0.6, 0.25)
    frame = result.to_frame()
    assert list(frame.columns) == ["cohort", "cohort_size", "period", "persons", "retention"]
    assert frame.persons.tolist() == [4, 2, 1, 1, 1, 0]


def test_filters_choose_the_start_events_and_person_traits_come_from_identify(make_events):
    events = make_events(
        [
            {"person": "a", "type": "identify", "ts": 0, "traits": {"plan": "pro"}},
            {"person": "a", "event": "s", "ts": 10, "properties": {"campaign": "ad"}},
            {"person": "a", "event": "r", "ts": DAY},
            {"person": "b", "event": "s", "ts": 10, "properties": {"campaign": "mail"}},
            {"person": "b", "event": "r", "ts": DAY},
            {"person": "c", "event": "s", "ts": 10, "properties": {"campaign": "ad"}},
            {"event": "s", "ts": 10, "properties": {"campaign": "ad"}},
        ]
    )
    by_event = day_spec(
        start_event={"event": "s", "where": [{"property": "campaign", "value": "ad"}]},
        total_intervals=2,
        date_from="2024-01-01",
    )
    assert retention(events, by_event).counts[0] == (2, 1)
    plan = PropertyFilter(property="plan", source="person", value="pro")
    by_person = day_spec(
        start_event={"event": "s", "where": [plan]}, total_intervals=2, date_from="2024-01-01"
    )
    assert retention(events, by_person).counts[0] == (1, 1)


def test_any_event_means_any_behaviour_not_identity_calls(make_events):
    events = make_events(
        [
            {"person": "a", "event": "view", "ts": 0},
            {"person": "a", "type": "page", "event": "Home", "ts": DAY},
            {"person": "b", "type": "identify", "ts": 0, "traits": {"plan": "x"}},
            {"person": "b", "type": "identify", "ts": DAY, "traits": {"plan": "y"}},
        ]
    )
    result = retention(events, RetentionSpec(total_intervals=2, date_from="2024-01-01"))
    assert result.counts == ((1, 1), (0, None))


def test_an_empty_table_gives_an_empty_result_with_a_warning(make_events):
    events = make_events([{"person": "a", "event": "other", "ts": 0}])
    result = retention(events, day_spec())
    assert [w.code for w in result.warnings] == ["NO_EVENTS"]
    assert result.to_frame().empty
    body = result.to_dict()
    assert body["cohorts"] == []
    assert body["warnings"][0]["code"] == "NO_EVENTS"
    json.dumps(body, allow_nan=False)
    result.figure()


def test_the_result_is_json_ready_and_drawn_from_its_values(make_events):
    events = make_events(
        [{"person": "a", "event": "s", "ts": 0}, {"person": "a", "event": "r", "ts": DAY}]
    )
    result = retention(events, day_spec(total_intervals=3, date_from="2024-01-01"))
    body = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert body["cohorts"][0] == {
        "cohort": "2024-01-01T00:00:00+00:00",
        "size": 1,
        "persons": [1, 1, None],
        "retention": [1.0, 1.0, None],
    }
    assert body["curve"][1] == {"period": 1, "persons": 1, "base": 1, "retention": 1.0}
    figure = result.figure()
    assert [trace.type for trace in figure.data] == ["heatmap", "scatter"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"total_intervals": 0}, "greater than or equal to 1"),
        ({"interval": "fortnight"}, "'hour', 'day', 'week' or 'month'"),
        ({"retention_type": "first_ever"}, "'first_time' or 'recurring'"),
        ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "date_from must not be after"),
        ({"start_event": ""}, "must not be empty"),
        ({"start_event": {"event": []}}, "at least one name"),
        ({"cohort": "week"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_specs_are_refused_with_a_clear_message(fields, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        RetentionSpec(**fields)


# ---------------------------------------------------------------- published reference values
# Two cases from PostHog's own retention tests (posthog/hogql_queries/insights/test/
# test_retention_query_runner.py: test_day_interval and test_month_interval), whose expected
# matrices were computed by PostHog: recurring retention of $pageview, 11 intervals. PostHog
# pads cells after the range with 0 where this library says None (not observed).


def triangle(result):
    return [[n for n in row if n is not None] for row in result.counts]


def test_daily_recurring_retention_matches_posthogs_published_example(make_events):
    days = {"person1": [0, 1, 2, 5, 5, 6], "person2": [1, 2, 3, 6]}
    rows = [
        {"person": p, "event": "$pageview", "ts": f"2020-06-{10 + d} {9 if i == 4 else 5:02d}:00"}
        for p, ds in days.items()
        for i, d in enumerate(ds)
    ]
    spec = RetentionSpec(
        start_event="$pageview",
        return_event="$pageview",
        retention_type="recurring",
        total_intervals=11,
        date_to="2020-06-20 06:00",
    )
    result = retention(make_events(rows), spec)
    assert result.cohorts[0].isoformat() == "2020-06-10T00:00:00+00:00"
    assert triangle(result) == [
        [1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0],
        [2, 2, 1, 0, 1, 2, 0, 0, 0, 0],
        [2, 1, 0, 1, 2, 0, 0, 0, 0],
        [1, 0, 0, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [2, 0, 0, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0],
        [0, 0],
        [0],
    ]


def test_monthly_recurring_retention_matches_posthogs_published_example(make_events):
    months = {"person1": [1, 2, 3, 5, 6, 9], "person2": [1, 2, 3, 6, 7, 11]}
    rows = [
        {"person": p, "event": "$pageview", "ts": f"2020-{m:02d}-10 05:00"}
        for p, ms in months.items()
        for m in ms
    ]
    spec = RetentionSpec(
        start_event="$pageview",
        return_event="$pageview",
        retention_type="recurring",
        interval="month",
        total_intervals=11,
        date_to="2020-11-25",
    )
    result = retention(make_events(rows), spec)
    assert [c.month for c in result.cohorts] == list(range(1, 12))
    assert triangle(result) == [
        [2, 2, 2, 0, 1, 2, 1, 0, 1, 0, 1],
        [2, 2, 0, 1, 2, 1, 0, 1, 0, 1],
        [2, 0, 1, 2, 1, 0, 1, 0, 1],
        [0, 0, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 1, 0, 0],
        [2, 1, 0, 1, 0, 1],
        [1, 0, 0, 0, 1],
        [0, 0, 0, 0],
        [1, 0, 0],
        [0, 0],
        [1],
    ]


# ---------------------------------------------------------------- properties


def oracle(rows, retention_type, total, last):
    """Retention straight from the definition, for days 0..last."""
    starts = {(p, d) for p, e, d in rows if e == "s"}
    returns = {(p, d) for p, e, d in rows if e == "r"}
    persons = {p for p, _ in starts}
    if retention_type == "first_time":
        members = {p: {min(d for q, d in starts if q == p)} for p in persons}
    else:
        members = {p: {d for q, d in starts if q == p} for p in persons}
    counts = []
    for c in range(last + 1):
        cohort = [p for p in persons if c in members[p]]
        row = [len(cohort)]
        for k in range(1, total):
            row.append(None if c + k > last else sum((p, c + k) in returns for p in cohort))
        counts.append(tuple(row))
    return tuple(counts)


EVENT_ROWS = st.lists(
    st.tuples(st.sampled_from("abcd"), st.sampled_from("sr"), st.integers(0, 5)), max_size=14
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=EVENT_ROWS,
    retention_type=st.sampled_from(["first_time", "recurring"]),
    total=st.integers(1, 4),
    seconds=st.integers(0, DAY - 1),
)
def test_retention_matches_its_definition_whatever_the_row_order(
    make_events, rows, retention_type, total, seconds
):
    spec = day_spec(
        retention_type=retention_type,
        total_intervals=total,
        date_from="2024-01-01",
        date_to="2024-01-06",
    )
    table = [{"person": p, "event": e, "ts": d * DAY + seconds} for p, e, d in rows]
    result = retention(make_events(table), spec)
    assert result.counts == oracle(rows, retention_type, total, last=5)
    assert retention(make_events(table[::-1]), spec).counts == result.counts
    for row, size in zip(result.counts, result.cohort_sizes, strict=True):
        assert all(n is None or 0 <= n <= size for n in row)


# ---------------------------------------------------------------- planted truth and engines


USER_ACTION = {
    "where": [
        {"property": "event", "operator": "not_regex", "value": "Delivered$|^Order Refunded$"}
    ]
}


def test_churners_never_come_back_from_their_planted_churn_day(churn_events):
    churners, events = churn_events
    day = 20
    group = [str(c["person_key"]) for c in churners if c["churn_day"] == day]
    assert len(group) >= 3
    mine = events.filter(events.person_id.isin(group))
    spec = RetentionSpec(
        start_event=USER_ACTION,
        return_event=USER_ACTION,
        retention_type="recurring",
        total_intervals=28,
        date_from="2026-01-01",
        date_to="2026-01-28",
    )
    result = retention(mine, spec)
    for c, row in enumerate(result.counts):
        assert all(n == 0 for k, n in enumerate(row) if c + k >= day and n is not None)
    assert all(size == 0 for size in result.cohort_sizes[day:])
    assert sum(result.cohort_sizes[:day]) > 0
    # Everyone else keeps some activity on those days.
    others = retention(events.filter(~events.person_id.isin(group)), spec)
    assert sum(others.cohort_sizes[day:]) > 0


@pytest.mark.spark
def test_retention_is_the_same_on_spark(make_events, make_spark_events):
    rows = [
        {"person": "a", "event": "s", "ts": "2024-01-01 23:00"},
        {"person": "a", "event": "r", "ts": "2024-01-09 01:00"},
        {"person": "a", "event": "s", "ts": "2024-01-15 01:00"},
        {"person": "a", "event": "r", "ts": "2024-02-05 01:00"},
        {"person": "b", "event": "s", "ts": "2024-01-07 23:59", "properties": {"plan": "x"}},
        {"person": "b", "event": "r", "ts": "2024-01-08 00:00"},
        {"person": "b", "event": "r", "ts": "2024-01-08 05:00"},
        {"person": "c", "event": "r", "ts": "2024-01-03 00:00"},
        {"person": "c", "event": "s", "ts": "2024-01-22 00:00"},
        {"event": "s", "ts": "2024-01-22 00:00"},
    ]
    duck, spark = make_events(rows), make_spark_events(rows)
    # Each Spark query costs seconds: two specs cover both cohort kinds, weeks and months
    # (the lifecycle and trends tests run the range-from-the-data query on Spark).
    specs = [
        RetentionSpec(
            start_event="s",
            return_event="r",
            interval="week",
            total_intervals=6,
            date_to="2024-02-05",
        ),
        RetentionSpec(
            start_event="s",
            return_event="r",
            retention_type="recurring",
            interval="month",
            total_intervals=2,
            date_to="2024-02-10",
        ),
    ]
    for spec in specs:
        assert retention(spark, spec) == retention(duck, spec), spec
