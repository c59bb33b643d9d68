"""Funnels follow PostHog's rules on tiny literal tables, one person per rule."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import pydantic
import pytest

from journeylens.analysis.funnel import FunnelSpec, funnel, funnel_actors
from journeylens.analysis.registry import get_analysis
from journeylens.errors import ValidationError


def rows_of(**people):
    """``person=[(event, ts, properties?), ...]`` as event rows."""
    out = []
    for person, events in people.items():
        for event, ts, *props in events:
            out.append(
                {
                    "person": person,
                    "event": event,
                    "ts": ts,
                    "properties": props[0] if props else {},
                }
            )
    return out


def reached(events, spec):
    """Steps reached per counted unit."""
    frame = funnel_actors(events, spec, step=1)
    return dict(zip(frame.iloc[:, 0], frame.steps_reached, strict=True))


ORDERED = rows_of(
    linear=[("A", 0), ("B", 1), ("C", 2)],
    others_between=[("A", 0), ("D", 1), ("B", 2), ("C", 3)],
    wrong_order=[("B", 0), ("A", 1), ("C", 2)],
    window_edge=[("A", 0), ("B", 5), ("C", 10)],
    window_out=[("A", 0), ("B", 5), ("C", 11)],
    newest_start=[("A", 0), ("A", 8), ("B", 12), ("C", 15)],
    same_second=[("C", 0), ("B", 0), ("A", 0)],
    furthest_attempt=[("A", 0), ("B", 3), ("A", 5), ("B", 6), ("C", 7)],
    never_started=[("B", 0), ("C", 1)],
)
ABC = FunnelSpec(steps=["A", "B", "C"], window="10s")


def test_ordered_funnels_follow_windows_restarts_and_same_second_chains(make_events):
    assert reached(make_events(ORDERED), ABC) == {
        "linear": 3,
        "others_between": 3,
        "wrong_order": 1,
        "window_edge": 3,  # the window end is inclusive
        "window_out": 2,
        "newest_start": 3,  # the newest A replaces the attempt that would time out
        "same_second": 3,  # steps of the same timestamp chain
        "furthest_attempt": 3,
    }


def test_step_counts_rates_and_times_come_from_the_best_attempts(make_events):
    result = funnel(make_events(ORDERED), ABC)
    first, second, third = result.steps
    assert [s.count for s in result.steps] == [8, 7, 6]
    assert second.conversion_rate == pytest.approx(7 / 8)
    assert third.step_conversion_rate == pytest.approx(6 / 7)
    assert [s.drop_off for s in result.steps] == [0, 1, 1]
    # A→B gaps 1, 2, 5, 5, 4 and 1 (the attempt that got furthest); the 0 s gap is left out.
    assert second.avg_time_to_convert_seconds == pytest.approx(3.0)
    assert second.median_time_to_convert_seconds == pytest.approx(3.0)
    # B→C gaps 1, 1, 5, 3, 1.
    assert third.avg_time_to_convert_seconds == pytest.approx(2.2)
    assert third.median_time_to_convert_seconds == pytest.approx(1.0)
    assert first.avg_time_to_convert_seconds is None


def test_one_event_fills_one_step_but_same_second_events_chain(make_events):
    events = make_events(
        rows_of(one=[("A", 0)], two=[("A", 0), ("A", 0)], later=[("A", 0), ("A", 3)])
    )
    assert reached(events, FunnelSpec(steps=["A", "A"], window="10s")) == {
        "one": 1,
        "two": 2,
        "later": 2,
    }


def test_an_excluded_event_between_the_steps_removes_the_person(make_events):
    events = make_events(
        rows_of(
            between=[("A", 0), ("X", 1), ("B", 2), ("C", 3)],
            after_the_range=[("A", 0), ("B", 1), ("X", 2), ("C", 3)],
            clean_retry=[("A", 0), ("X", 1), ("A", 5), ("B", 6), ("C", 7)],
            other_attempt=[("A", 0), ("B", 1), ("A", 30), ("X", 31)],
        )
    )
    spec = FunnelSpec(
        steps=["A", "B", "C"],
        window="10s",
        exclusions=[{"event": "X", "from_step": 0, "to_step": 1}],
    )
    assert reached(events, spec) == {"after_the_range": 3, "clean_retry": 3, "other_attempt": 2}


def test_strict_funnels_break_on_any_other_event(make_events):
    events = make_events(
        rows_of(
            ok=[("A", 0), ("B", 1), ("C", 2)],
            broken=[("A", 0), ("D", 1), ("B", 2), ("C", 3)],
            retried=[("A", 0), ("D", 1), ("A", 2), ("B", 3), ("C", 4)],
        )
    )
    spec = FunnelSpec(steps=["A", "B", "C"], window="10s", order="strict")
    assert reached(events, spec) == {"ok": 3, "broken": 1, "retried": 3}


def test_unordered_open_and_hybrid_funnels(make_events):
    events = make_events(
        rows_of(
            backwards=[("C", 0), ("B", 1), ("A", 2)],
            apart=[("C", 0), ("A", 20)],
            no_first=[("C", 0), ("B", 1)],
            mixed=[("B", 0), ("A", 1), ("C", 2)],
        )
    )
    unordered = reached(events, FunnelSpec(steps=["A", "B", "C"], window="10s", order="unordered"))
    assert unordered == {"backwards": 3, "apart": 1, "no_first": 2, "mixed": 3}
    open_counts = [
        s.count for s in funnel(events, FunnelSpec(steps=["A", "B", "C"], order="open")).steps
    ]
    assert open_counts == [3, 3, 4]
    hybrid = funnel(events, FunnelSpec(steps=["A", "B", "C"], order="hybrid"))
    # Hybrid counts a step only at or after the person's first A: only mixed's C is.
    assert [s.count for s in hybrid.steps] == [3, 0, 1]
    assert "NO_WINDOW" in [w.code for w in hybrid.warnings]


BREAKDOWN = rows_of(
    p1=[("A", 0, {"plan": "x"}), ("B", 1, {"plan": "y"})],
    p2=[("A", 0, {"plan": "y"}), ("B", 1)],
    p3=[("A", 0)],
    p4=[("A", 0, {"plan": "y"}), ("B", 1)],
)


@pytest.mark.parametrize(
    ("attribution", "expected"),
    [
        ({"attribution": "first_touch"}, {"y": [2, 2], "x": [1, 1], None: [1, 0]}),
        ({"attribution": "last_touch"}, {"y": [3, 3], None: [1, 0]}),
        ({"attribution": "all_events"}, {"y": [2, 0], "x": [1, 0]}),
        ({"attribution": "step", "step": 1}, {None: [3, 2], "y": [1, 1]}),
        ({"attribution": "first_touch", "limit": 1}, {"y": [2, 2], "Other": [2, 1]}),
    ],
)
def test_breakdown_attribution_picks_the_value_as_posthog_does(make_events, attribution, expected):
    spec = FunnelSpec(steps=["A", "B"], window="10s", breakdown={"property": "plan", **attribution})
    result = funnel(make_events(BREAKDOWN), spec)
    got = {row.value: [s.count for s in row.steps] for row in result.breakdowns}
    assert got == expected
    assert list(got) == list(expected)  # most converting first, "Other" last


def test_count_by_a_property_counts_its_values_and_skips_events_without_it(make_events):
    events = make_events(
        [
            {"person": "a", "event": "A", "ts": 0, "properties": {"company": "acme"}},
            {"person": "b", "event": "B", "ts": 1, "properties": {"company": "acme"}},
            {"person": "c", "event": "A", "ts": 0},
            {"person": "c", "event": "B", "ts": 1},
        ]
    )
    spec = FunnelSpec(steps=["A", "B"], count_by={"property": "company"})
    assert reached(events, spec) == {"acme": 2}
    assert funnel(events, spec).unit == "company"


def test_count_by_session_counts_each_session(make_events):
    events = make_events(
        [
            {"person": "a", "event": "A", "ts": 0, "session_id": "s1"},
            {"person": "a", "event": "B", "ts": 1, "session_id": "s1"},
            {"person": "a", "event": "A", "ts": 100, "session_id": "s2"},
            {"person": "a", "event": "B", "ts": 101, "session_id": "s3"},
        ]
    )
    assert reached(events, FunnelSpec(steps=["A", "B"], count_by="session")) == {
        "s1": 2,
        "s2": 1,
    }


def test_every_counted_step_falls_inside_the_date_range_and_first_time_looks_at_all_time(
    make_events,
):
    day = 86_400
    events = make_events(
        rows_of(
            late_b=[("A", day), ("B", 3 * day)],
            inside=[("A", day), ("B", day + 5)],
            came_back=[("A", 0), ("A", day), ("B", day + 1)],
        )
    )
    spec = FunnelSpec(
        steps=["A", "B"], date_from=date(2024, 1, 2), date_to=date(2024, 1, 2), window="14d"
    )
    assert reached(events, spec) == {"late_b": 1, "inside": 2, "came_back": 2}
    first_time = FunnelSpec(
        steps=[{"event": "A", "first_time_for_person": True}, "B"],
        date_from=date(2024, 1, 2),
        date_to=date(2024, 1, 2),
        window="14d",
    )
    # came_back's first A ever was before the range, so its A inside the range is not a first.
    assert reached(events, first_time) == {"late_b": 1, "inside": 2}


def test_funnel_actors_lists_who_converted_or_dropped(make_events):
    events = make_events(ORDERED)
    dropped = funnel_actors(events, ABC, step=3, outcome="dropped")
    assert dropped.person_id.tolist() == ["window_out"]
    converted = funnel_actors(events, ABC, step=3, limit=2)
    assert converted.person_id.tolist() == ["furthest_attempt", "linear"]
    with pytest.raises(ValidationError):
        funnel_actors(events, ABC, step=1, outcome="dropped")


def test_the_result_is_json_ready_and_draws_a_bar_per_step(make_events):
    spec = FunnelSpec(steps=["A", "B"], breakdown={"property": "plan"}, interval="day")
    result = funnel(make_events(BREAKDOWN), spec)
    doc = json.loads(json.dumps(result.to_dict()))
    assert set(doc) >= {"steps", "breakdowns", "over_time", "warnings"}
    assert set(doc["steps"][0]) == {
        "name",
        "count",
        "conversion_rate",
        "step_conversion_rate",
        "drop_off",
        "avg_time_to_convert_seconds",
        "median_time_to_convert_seconds",
    }
    assert doc["over_time"] == [
        {
            "period": "2024-01-01T00:00:00+00:00",
            "entered": 4,
            "converted": 3,
            "conversion_rate": 0.75,
        }
    ]
    assert len(result.to_frame()) == 2 * len(result.breakdowns)
    figure = result.figure()
    assert isinstance(figure, go.Figure)
    assert len(figure.data) == len(result.breakdowns)


def test_an_empty_table_gives_an_empty_funnel_with_a_warning(make_events):
    result = funnel(make_events([]), ABC)
    assert [s.count for s in result.steps] == [0, 0, 0]
    assert result.steps[1].conversion_rate is None
    assert [w.code for w in result.warnings] == ["NO_UNITS"]
    assert result.to_dict()["over_time"] == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"steps": ["A"]}, "at least 2"),
        ({"steps": ["A", "B"], "order": "sideways"}, "order"),
        ({"steps": ["A", "B"], "window": "soon"}, "duration"),
        ({"steps": ["A", "B"], "exclusions": [{"event": "X", "to_step": 2}]}, "past the last"),
        (
            {"steps": ["A", "B"], "exclusions": [{"event": "X", "from_step": 1, "to_step": 1}]},
            "after",
        ),
        ({"steps": ["A", "B"], "exclusions": [{"event": "B"}]}, "also a step"),
        (
            {"steps": ["A", "B", "C"], "order": "unordered", "exclusions": [{"event": "X"}]},
            "whole funnel",
        ),
        ({"steps": ["A", "B"], "breakdown": {"property": "p", "attribution": "step"}}, "step"),
        ({"steps": ["A", "B"], "colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_specs_are_refused_with_a_clear_message(spec, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        FunnelSpec.model_validate(spec)


def test_closed_is_read_as_ordered_and_the_spec_round_trips_through_json():
    spec = FunnelSpec.model_validate(
        {"steps": ["A", {"event": None, "label": "Anything"}], "order": "closed", "window": "1mo"}
    )
    assert spec.order == "ordered"
    assert spec.window.days == 31
    assert FunnelSpec.model_validate_json(spec.model_dump_json()) == spec
    assert get_analysis("funnel").spec is FunnelSpec


@pytest.mark.spark
def test_spark_gives_the_same_funnel_as_duckdb(make_events, make_spark_events):
    rows = ORDERED + BREAKDOWN
    # Distinct steps take the chain; the value of step 2 pairs units with values (null ones too).
    spec = FunnelSpec(steps=["A", "B", "C"], window="10s", exclusions=[{"event": "D"}])
    per_value = FunnelSpec(
        steps=["A", "B"], breakdown={"property": "plan", "attribution": "step", "step": 1}
    )
    for chained in (spec, per_value):
        on_spark = funnel(make_spark_events(rows), chained).to_dict()
        assert on_spark == funnel(make_events(rows), chained).to_dict()
    strict = FunnelSpec(steps=["A", "B"], order="strict", breakdown={"property": "plan"})
    on_spark = funnel_actors(make_spark_events(rows), strict, step=1)
    pd.testing.assert_frame_equal(on_spark, funnel_actors(make_events(rows), strict, step=1))
