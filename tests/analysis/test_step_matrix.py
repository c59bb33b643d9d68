"""The step matrix shares paths (or persons) out over nodes at each step, with an end row."""

from __future__ import annotations

import json
import re

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeylens.analysis.step_matrix import StepMatrixSpec, step_matrix


def session(sid: str, names: str, person: str, start: int = 0) -> list[dict]:
    return [
        {"person": person, "session_id": sid, "event": name, "ts": start + i}
        for i, name in enumerate(names)
    ]


# Person a has two sessions (HS and H), b one (HSP).
ROWS = session("s1", "HS", "a") + session("s2", "H", "a", 100) + session("s3", "HSP", "b")


def test_each_cell_is_the_share_of_paths_at_that_node_at_that_step(make_events):
    result = step_matrix(make_events(ROWS), StepMatrixSpec(max_steps=4))
    assert result.total == 3
    assert result.counts.to_dict("index") == {
        "H": {1: 3, 2: 0, 3: 0, 4: 0},
        "S": {1: 0, 2: 2, 3: 0, 4: 0},
        "P": {1: 0, 2: 0, 3: 1, 4: 0},
        "[end]": {1: 0, 2: 1, 3: 2, 4: 3},
    }
    assert result.to_frame().sum().tolist() == [1.0, 1.0, 1.0, 1.0]


def test_persons_count_once_per_cell_and_end_when_any_path_has_ended(make_events):
    result = step_matrix(make_events(ROWS), StepMatrixSpec(max_steps=3, unit="persons"))
    assert result.total == 2
    assert result.counts.to_dict("index") == {
        "H": {1: 2, 2: 0, 3: 0},
        "S": {1: 0, 2: 2, 3: 0},
        "P": {1: 0, 2: 0, 3: 1},
        # a's one-step session has ended by step 2; b's three-step path only by step 4.
        "[end]": {1: 0, 2: 1, 3: 1},
    }
    assert result.to_frame().loc["S", 2] == 1.0


def test_person_scope_makes_one_path_of_all_sessions(make_events):
    result = step_matrix(make_events(ROWS), StepMatrixSpec(max_steps=3, scope="person"))
    assert result.total == 2
    # a: H S H (no repeat is consecutive); b: H S P.
    assert result.counts.loc["H"].tolist() == [2, 0, 1]
    assert result.counts.loc["[end]"].tolist() == [0, 0, 0]


def test_rows_are_ordered_by_their_counts_with_the_end_row_last(make_events):
    result = step_matrix(make_events(ROWS), StepMatrixSpec(max_steps=2))
    assert list(result.to_frame().index) == ["H", "S", "[end]"]


def test_an_empty_table_gives_an_empty_matrix_with_a_warning(make_events):
    result = step_matrix(make_events([]), StepMatrixSpec(max_steps=3))
    assert result.total == 0
    assert result.counts.to_dict("index") == {"[end]": {1: 0, 2: 0, 3: 0}}
    body = result.to_dict()
    assert json.loads(json.dumps(body)) == body
    assert body["warnings"][0]["code"] == "NO_PATHS"
    result.figure()


def test_the_result_is_json_ready_and_draws_a_heatmap(make_events):
    result = step_matrix(make_events(ROWS), StepMatrixSpec(max_steps=2))
    body = result.to_dict()
    assert json.loads(json.dumps(body)) == body
    assert body["steps"] == [1, 2]
    assert body["unit"] == "paths"
    assert body["rows"][1] == {"node": "S", "counts": [0, 2], "shares": [0.0, 2 / 3]}
    assert result.figure().data[0].type == "heatmap"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"max_steps": 0}, "greater than or equal to 1"),
        ({"max_steps": 51}, "less than or equal to 50"),
        ({"unit": "events"}, "Input should be 'paths' or 'persons'"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(spec, problem):
    with pytest.raises(pydantic.ValidationError, match=re.escape(problem)):
        StepMatrixSpec(**spec)


ROW = st.fixed_dictionaries(
    {
        "person": st.sampled_from(["a", "b", "c"]),
        "event": st.sampled_from(["A", "B", "C"]),
        "ts": st.integers(0, 6),
    }
)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(ROW, max_size=15), seed=st.randoms(use_true_random=False))
def test_columns_of_path_shares_sum_to_one_whatever_the_row_order(make_events, rows, seed):
    rows = [{**r, "session_id": r["person"], "message_id": f"m{i:03d}"} for i, r in enumerate(rows)]
    shuffled = list(rows)
    seed.shuffle(shuffled)
    spec = StepMatrixSpec(max_steps=4)
    first = step_matrix(make_events(rows), spec)
    second = step_matrix(make_events(shuffled), spec)
    assert first.counts.equals(second.counts)
    if rows:
        assert first.to_frame().sum().round(9).tolist() == [1.0] * 4


@pytest.mark.spark
def test_spark_builds_the_same_matrix(make_events, make_spark_events):
    spec = StepMatrixSpec(max_steps=3, unit="persons")
    duck = step_matrix(make_events(ROWS), spec)
    spark = step_matrix(make_spark_events(ROWS), spec)
    assert spark.counts.equals(duck.counts)
    assert spark.total == duck.total
