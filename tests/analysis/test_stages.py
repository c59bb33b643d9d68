"""Stages: current stage, entries, transitions, time in stage, losses and counts over time."""

from __future__ import annotations

import json
import random

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeylens.analysis.stages import StagesSpec, stages
from journeylens.schema import STAGES

DAY = 86_400


def by_stage(result, column):
    return dict(zip(result.current.stage, result.current[column], strict=True))


ROWS = [
    # a: awareness -> consideration -> purchase; long gaps.
    {"person": "a", "event": "Home", "stage": "awareness", "ts": 0},
    {"person": "a", "event": "Home", "stage": "awareness", "ts": 1 * DAY},
    {"person": "a", "event": "Product Viewed", "stage": "consideration", "ts": 3 * DAY},
    {"person": "a", "event": "Order Completed", "stage": "purchase", "ts": 7 * DAY},
    # b: awareness -> consideration -> awareness (a move backwards), unstaged identify ignored.
    {"person": "b", "event": "Home", "stage": "awareness", "ts": 2 * DAY},
    {"person": "b", "event": "Search", "stage": "consideration", "ts": 6 * DAY},
    {"person": "b", "event": "Email Delivered", "stage": "awareness", "ts": 40 * DAY},
    {"person": "b", "type": "identify", "ts": 41 * DAY},
    # c: one awareness event long ago: lost in awareness.
    {"person": "c", "event": "Home", "stage": "awareness", "ts": 1 * DAY},
    # No person: not counted.
    {"event": "Home", "stage": "awareness", "ts": 5 * DAY},
]


def test_a_persons_stage_is_the_stage_of_their_latest_staged_event(make_events):
    result = stages(make_events(ROWS), StagesSpec())
    assert by_stage(result, "persons") == {
        "awareness": 2,
        "consideration": 0,
        "purchase": 1,
        "retention": 0,
        "advocacy": 0,
    }
    assert result.persons == 3
    assert by_stage(result, "share")["awareness"] == pytest.approx(2 / 3)


def test_events_at_the_same_instant_leave_the_person_in_the_later_stage(make_events):
    rows = [
        {"person": "a", "event": "Order Completed", "stage": "purchase", "ts": 10},
        {"person": "a", "event": "Cart Viewed", "stage": "consideration", "ts": 10},
    ]
    result = stages(make_events(rows), StagesSpec())
    assert by_stage(result, "persons")["purchase"] == 1
    assert result.transitions.to_dict("records") == [
        {"from_stage": "consideration", "to_stage": "purchase", "moves": 1, "persons": 1}
    ]


def test_transitions_count_moves_between_consecutive_stays_in_both_directions(make_events):
    result = stages(make_events(ROWS), StagesSpec())
    assert result.transitions.to_dict("records") == [
        {"from_stage": "awareness", "to_stage": "consideration", "moves": 2, "persons": 2},
        {"from_stage": "consideration", "to_stage": "awareness", "moves": 1, "persons": 1},
        {"from_stage": "consideration", "to_stage": "purchase", "moves": 1, "persons": 1},
    ]


def test_time_in_stage_runs_from_entering_it_to_entering_the_next_and_skips_open_stays(
    make_events,
):
    result = stages(make_events(ROWS), StagesSpec())
    # awareness stays: a 0 -> 3 days, b 2 -> 6 days (c and b's second stay are still open).
    assert by_stage(result, "median_days_in_stage")["awareness"] == pytest.approx(3.5)
    assert by_stage(result, "stays_completed")["awareness"] == 2
    # consideration: a 3 -> 7 = 4 days, b 6 -> 40 = 34 days.
    assert by_stage(result, "median_days_in_stage")["consideration"] == pytest.approx(19.0)
    assert by_stage(result, "entered") == {
        "awareness": 3,
        "consideration": 2,
        "purchase": 1,
        "retention": 0,
        "advocacy": 0,
    }


def test_a_stage_loses_the_persons_inactive_in_it_for_longer_than_inactive_after(make_events):
    result = stages(make_events(ROWS), StagesSpec(inactive_after="30d"))
    # as_of = day 41 (the identify); c last seen day 1 and a day 7 are lost, b (day 40) is not.
    assert by_stage(result, "lost") == {
        "awareness": 1,
        "consideration": 0,
        "purchase": 1,
        "retention": 0,
        "advocacy": 0,
    }
    assert by_stage(result, "lost_share")["awareness"] == pytest.approx(0.5)
    longer = stages(make_events(ROWS), StagesSpec(inactive_after="40d"))
    assert by_stage(longer, "lost")["purchase"] == 0


def test_as_of_ignores_later_events(make_events):
    result = stages(make_events(ROWS), StagesSpec(as_of="2024-01-05T00:00:00Z"))
    # On day 4: a in consideration, b and c in awareness.
    assert by_stage(result, "persons")["consideration"] == 1
    assert by_stage(result, "persons")["awareness"] == 2


def test_over_time_counts_persons_by_their_stage_at_the_end_of_each_interval(make_events):
    result = stages(make_events(ROWS[:9]), StagesSpec(interval="week"))
    table = result.over_time.pivot(index="period", columns="stage", values="persons")
    weeks = [str(p.date()) for p in table.index]
    # 2024-01-01 is a Monday; as_of is day 41 (2024-02-11), in the week of 2024-02-05.
    assert weeks == [
        "2024-01-01",
        "2024-01-08",
        "2024-01-15",
        "2024-01-22",
        "2024-01-29",
        "2024-02-05",
    ]
    first = table.iloc[0]
    # End of week 1 (days 0-6): a and b in consideration, c in awareness; a buys on day 7.
    assert (first.awareness, first.consideration, first.purchase) == (1, 2, 0)
    second = table.iloc[1]
    assert (second.awareness, second.consideration, second.purchase) == (1, 1, 1)
    last = table.iloc[-1]
    assert (last.awareness, last.consideration, last.purchase) == (2, 0, 1)
    assert (table.sum(axis=1) == 3).all()


def test_an_empty_table_gives_an_empty_result_with_a_warning(make_events):
    result = stages(make_events([]), StagesSpec())
    assert result.persons == 0
    assert [w.code for w in result.warnings] == ["NO_STAGED_EVENTS"]
    assert result.to_dict()["stages"][0]["persons"] == 0
    result.figure()


def test_the_result_is_json_ready_and_draws_a_figure(make_events):
    result = stages(make_events(ROWS), StagesSpec())
    document = json.loads(json.dumps(result.to_dict()))
    assert document["as_of"] == "2024-02-11T00:00:00+00:00"
    assert document["stages"][3]["median_days_in_stage"] is None
    assert document["over_time"][0]["period"] == "2024-01-01T00:00:00+00:00"
    assert len(result.figure().data) == 7


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"interval": "year"}, "Input should be"),
        ({"inactive_after": "soon"}, "inactive_after"),
        ({"window": "7d"}, "Extra inputs"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(spec, problem):
    with pytest.raises(pydantic.ValidationError, match=problem):
        StagesSpec.model_validate(spec)


STAGED_ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "person": st.sampled_from("abcd"),
            "stage": st.sampled_from(STAGES),
            "ts": st.integers(0, 20 * DAY),
        }
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=STAGED_ROWS, seed=st.integers())
def test_stage_counts_agree_with_each_other_whatever_the_row_order(make_events, rows, seed):
    rows = [row | {"message_id": f"m{i:03d}"} for i, row in enumerate(rows)]
    result = stages(make_events(rows), StagesSpec(interval="day"))
    current = result.current.set_index("stage")
    # The last interval ends after as_of's events: it holds everyone where they are now.
    last = result.over_time[result.over_time.period == result.over_time.period.max()]
    assert last.set_index("stage").persons.to_dict() == current.persons.to_dict()
    # Every completed stay ends in exactly one move out of its stage.
    out = result.transitions.groupby("from_stage").moves.sum()
    assert all(out.get(s, 0) == current.stays_completed[s] for s in STAGES)
    assert current.persons.sum() == result.persons == len({r["person"] for r in rows})
    random.Random(seed).shuffle(rows)
    assert stages(make_events(rows), StagesSpec(interval="day")).to_dict() == result.to_dict()


@pytest.mark.spark
def test_spark_gives_the_same_stages_as_duckdb(make_events, make_spark_events):
    spec = StagesSpec(interval="week", inactive_after="30d")
    duck = stages(make_events(ROWS), spec).to_dict()
    spark = stages(make_spark_events(ROWS), spec).to_dict()
    assert spark == duck
