"""Transitions count consecutive steps by events and by persons, with start and end markers."""

from __future__ import annotations

import json
import re

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeylens as jl
from journeylens.analysis.transitions import TransitionsSpec, transitions

# a makes A→B in two sessions, b once: 3 transitions by 2 persons.
ROWS = [
    {"person": "a", "session_id": "s1", "event": "A", "ts": 1},
    {"person": "a", "session_id": "s1", "event": "B", "ts": 2},
    {"person": "a", "session_id": "s2", "event": "A", "ts": 100},
    {"person": "a", "session_id": "s2", "event": "B", "ts": 101},
    {"person": "a", "session_id": "s2", "event": "C", "ts": 102},
    {"person": "b", "session_id": "s3", "event": "A", "ts": 5},
    {"person": "b", "session_id": "s3", "event": "B", "ts": 6},
    {"person": "c", "session_id": "s4", "event": "C", "ts": 7},
]


def pairs(result, value="transitions") -> dict[tuple[str, str], float]:
    frame = result.to_frame()
    return {(r.source, r.target): getattr(r, value) for r in frame.itertuples()}


def test_transitions_count_every_pair_and_persons_count_each_person_once(make_events):
    result = transitions(make_events(ROWS), TransitionsSpec(markers=False))
    assert pairs(result) == {("A", "B"): 3, ("B", "C"): 1}
    assert pairs(result, "persons") == {("A", "B"): 2, ("B", "C"): 1}
    assert (result.paths, result.persons) == (4, 3)


def test_markers_show_where_paths_start_and_end(make_events):
    result = transitions(make_events(ROWS), TransitionsSpec())
    assert pairs(result) == {
        ("[start]", "A"): 3,
        ("[start]", "C"): 1,
        ("A", "B"): 3,
        ("B", "[end]"): 2,
        ("B", "C"): 1,
        ("C", "[end]"): 2,
    }
    shares = pairs(result, "share")
    assert shares[("[start]", "A")] == pytest.approx(0.75)
    assert shares[("B", "[end]")] == pytest.approx(2 / 3)


def test_the_matrix_puts_the_markers_at_its_edges(make_events):
    grid = transitions(make_events(ROWS), TransitionsSpec()).matrix()
    assert list(grid.index) == ["[start]", "A", "B", "C"]
    assert list(grid.columns) == ["A", "B", "C", "[end]"]
    assert grid.loc["A", "B"] == 3
    assert grid.loc["A", "C"] == 0


def test_person_scope_joins_sessions_into_one_path(make_events):
    result = transitions(make_events(ROWS), TransitionsSpec(scope="person", markers=False))
    # a: A B A B C collapses nothing (no consecutive repeats) → A→B twice, B→A, B→C.
    assert pairs(result) == {("A", "B"): 3, ("B", "A"): 1, ("B", "C"): 1}


def test_repeats_are_collapsed_before_pairs_are_counted(make_events):
    rows = [{"person": "a", "session_id": "s", "event": e, "ts": i} for i, e in enumerate("AAAB")]
    assert pairs(transitions(make_events(rows), TransitionsSpec(markers=False))) == {("A", "B"): 1}
    kept = transitions(make_events(rows), TransitionsSpec(markers=False, collapse_repeats=False))
    assert pairs(kept) == {("A", "A"): 2, ("A", "B"): 1}


def test_single_step_paths_have_no_transitions_but_a_start_and_an_end(make_events):
    rows = [{"person": "a", "session_id": "s", "event": "A", "ts": 0}]
    bare = transitions(make_events(rows), TransitionsSpec(markers=False))
    assert bare.to_frame().empty
    assert [w.code for w in bare.warnings] == ["NO_TRANSITIONS"]
    marked = transitions(make_events(rows), TransitionsSpec())
    assert pairs(marked) == {("[start]", "A"): 1, ("A", "[end]"): 1}


def test_an_empty_table_gives_an_empty_result_with_a_warning(make_events):
    result = transitions(make_events([]), TransitionsSpec())
    assert result.to_frame().empty
    assert (result.paths, result.persons) == (0, 0)
    body = json.loads(json.dumps(result.to_dict()))
    assert body["warnings"][0]["code"] == "NO_PATHS"
    result.figure()


def test_the_result_is_json_ready_and_draws_a_heatmap(make_events):
    result = transitions(make_events(ROWS), TransitionsSpec())
    body = result.to_dict()
    assert json.loads(json.dumps(body)) == body
    assert body["transitions"][0] == {
        "source": "A",
        "target": "B",
        "transitions": 3,
        "persons": 2,
        "share": 1.0,
    }
    assert result.figure().data[0].type == "heatmap"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [({"markers": "sometimes"}, "valid boolean"), ({"max_steps": 3}, "Extra inputs")],
)
def test_a_bad_spec_says_what_is_wrong(spec, problem):
    with pytest.raises(pydantic.ValidationError, match=re.escape(problem)):
        TransitionsSpec(**spec)


ROW = st.fixed_dictionaries(
    {
        "person": st.sampled_from(["a", "b", "c"]),
        "session_id": st.sampled_from(["s1", "s2"]),
        "event": st.sampled_from(["A", "B", "C"]),
        "ts": st.integers(0, 4),
    }
)


def path_lengths(rows, collapse: bool) -> list[int]:
    """The oracle: each session's events sorted by (ts, message_id), repeats dropped."""
    sessions: dict[str, list[tuple[int, str, str]]] = {}
    for row in rows:
        sessions.setdefault(row["session_id"], []).append(
            (row["ts"], row["message_id"], row["event"])
        )
    lengths = []
    for steps in sessions.values():
        names = [name for _, _, name in sorted(steps)]
        if collapse:
            names = [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]
        lengths.append(len(names))
    return lengths


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(ROW, max_size=15), collapse=st.booleans())
def test_transition_counts_sum_to_the_consecutive_pairs_of_the_paths(make_events, rows, collapse):
    # Session ids are per person in the real table; make them so here too.
    rows = [
        {**r, "session_id": f"{r['person']}-{r['session_id']}", "message_id": f"m{i:03d}"}
        for i, r in enumerate(rows)
    ]
    events = make_events(rows)
    lengths = path_lengths(rows, collapse)
    bare = transitions(events, TransitionsSpec(markers=False, collapse_repeats=collapse))
    marked = transitions(events, TransitionsSpec(collapse_repeats=collapse))
    assert bare.to_frame()["transitions"].sum() == sum(n - 1 for n in lengths)
    assert marked.to_frame()["transitions"].sum() == sum(n + 1 for n in lengths)
    assert marked.paths == len(lengths)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(ROW, max_size=12), seed=st.randoms(use_true_random=False))
def test_person_level_transitions_do_not_depend_on_row_order(make_events, rows, seed):
    rows = [{**row, "message_id": f"m{i:03d}"} for i, row in enumerate(rows)]
    shuffled = list(rows)
    seed.shuffle(shuffled)
    spec = TransitionsSpec(scope="person")
    assert pairs(transitions(make_events(rows), spec)) == pairs(
        transitions(make_events(shuffled), spec)
    )


@pytest.fixture(scope="module")
def simulated():
    sim = jl.simulate(customers=300, days=30, seed=7)
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    return ws.events()


def test_simulated_orders_follow_checkout_and_carts_follow_adds(simulated):
    """The simulator emits Product Added → Cart Viewed → Checkout Started → Order Completed
    seconds apart inside a web/app visit; store and phone orders have no checkout."""
    frame = transitions(simulated, TransitionsSpec()).to_frame()
    into_order = frame[frame.target == "Order Completed"].set_index("source")["transitions"]
    assert into_order.idxmax() == "Checkout Started"
    assert (
        into_order.drop(["Store Visited", "Call Completed"], errors="ignore")
        .drop("Checkout Started")
        .sum()
        <= 0.05 * into_order.sum()
    )
    out_of_add = frame[frame.source == "Product Added"].set_index("target")["share"]
    assert out_of_add.idxmax() == "Cart Viewed"


@pytest.mark.spark
def test_spark_counts_the_same_transitions(make_events, make_spark_events):
    # One query per run: person scope (session scope runs in test_path_cleaning's Spark test).
    spec = TransitionsSpec(scope="person")
    duck = transitions(make_events(ROWS), spec)
    spark = transitions(make_spark_events(ROWS), spec)
    assert spark.to_frame().equals(duck.to_frame())
    assert (spark.paths, spark.persons) == (duck.paths, duck.persons) == (3, 3)
