"""Paths cut at their anchors, numbered per step, and keep only the heaviest edges."""

from __future__ import annotations

import json
import re

import pydantic
import pytest

import journeylens as jl
from journeylens.analysis.paths import PathsSpec, paths


def session(sid: str, names: str, person: str | None = None, start: int = 0) -> list[dict]:
    """One session of single-letter events, a second apart."""
    return [
        {"person": person or sid, "session_id": sid, "event": name, "ts": start + i}
        for i, name in enumerate(names)
    ]


ROWS = session("s1", "HSPC") + session("s2", "HSPX") + session("s3", "XHPC") + session("s4", "SP")


def edges(result) -> list[tuple[int, str, str, int]]:
    frame = result.to_frame()
    return [(r.source_step, r.source, r.target, r.paths) for r in frame.itertuples()]


def top(result) -> list[tuple[list[str], int]]:
    return [(list(r.path), r.paths) for r in result.top_paths.itertuples()]


def test_without_anchors_paths_start_at_their_first_step(make_events):
    result = paths(make_events(ROWS), PathsSpec(max_steps=2))
    assert edges(result) == [
        (1, "H", "S", 2),
        (1, "S", "P", 1),
        (1, "X", "H", 1),
    ]
    assert (result.total_paths, result.total_persons) == (4, 4)


def test_a_start_point_cuts_each_path_at_its_first_occurrence(make_events):
    rows = ROWS + session("s5", "PHPH")
    result = paths(make_events(rows), PathsSpec(start_point="H", max_steps=3))
    # s4 never reaches H and is left out; s5 starts at its first H.
    assert result.total_paths == 4
    assert top(result) == [(["H", "S", "P"], 2), (["H", "P", "C"], 1), (["H", "P", "H"], 1)]
    # Ties order by step, then source, then target.
    assert edges(result)[:2] == [(1, "H", "P", 2), (1, "H", "S", 2)]


def test_an_end_point_keeps_the_last_steps_before_it_right_aligned(make_events):
    rows = ROWS + session("s5", "CHCPC")
    result = paths(make_events(rows), PathsSpec(end_point="C", max_steps=3))
    # s5 ends at its first C, which is its first step: a path of one step, at step 3.
    # Ties order by the nodes' text.
    assert top(result) == [(["C"], 1), (["H", "P", "C"], 1), (["S", "P", "C"], 1)]
    assert {(r.source_step, r.target_step) for r in result.to_frame().itertuples()} == {
        (1, 2),
        (2, 3),
    }
    assert result.nodes().query("node == 'C'")["step"].tolist() == [3]


def test_start_and_end_points_cut_the_path_between_them(make_events):
    rows = session("s1", "CHSCPC") + session("s2", "HSP")
    result = paths(make_events(rows), PathsSpec(start_point="H", end_point="C", max_steps=5))
    assert top(result) == [(["H", "S", "C"], 1)]
    assert result.total_paths == 1


def test_the_same_node_at_two_steps_is_two_sankey_nodes(make_events):
    result = paths(make_events(session("s1", "HSHS")), PathsSpec(max_steps=4))
    assert result.nodes()["id"].tolist() == ["1_H", "2_S", "3_H", "4_S"]
    assert result.to_frame()["target_step"].tolist() == [2, 3, 4]


def test_light_edges_are_dropped_and_only_the_heaviest_are_kept(make_events):
    events = make_events(ROWS)
    light = paths(events, PathsSpec(max_steps=3, min_edge_weight=2))
    assert edges(light) == [(1, "H", "S", 2), (2, "S", "P", 2)]
    capped = paths(events, PathsSpec(max_steps=3, max_edges=2))
    # Ties at 1 path fall back to step, then source, then target.
    assert edges(capped) == [(1, "H", "S", 2), (2, "S", "P", 2)]
    assert capped.edges_total == 5
    assert [w.code for w in capped.warnings] == ["EDGES_LIMITED"]
    tied = paths(events, PathsSpec(max_steps=3, max_edges=3))
    assert edges(tied)[2] == (1, "S", "P", 1)


def test_shares_are_of_the_paths_reaching_the_anchor(make_events):
    result = paths(make_events(ROWS), PathsSpec(start_point="P", max_steps=2))
    assert result.total_paths == 4
    assert result.to_frame().set_index("target")["share"].to_dict() == {"C": 0.5, "X": 0.25}
    assert result.top_paths["share"].tolist() == [0.5, 0.25, 0.25]


def test_anchors_match_the_cleaned_node(make_events):
    rows = session("s1", "AHB") + session("s2", "AGB")
    spec = PathsSpec(start_point="Page", mapping={"H": "Page", "G": "Page"}, max_steps=2)
    result = paths(make_events(rows), spec)
    assert top(result) == [(["Page", "B"], 2)]


def test_persons_count_each_person_once(make_events):
    rows = session("s1", "HS", person="a") + session("s2", "HS", person="a", start=99)
    result = paths(make_events(rows), PathsSpec(max_steps=2))
    assert edges(result) == [(1, "H", "S", 2)]
    assert result.to_frame()["persons"].tolist() == [1]
    assert (result.total_paths, result.total_persons) == (2, 1)
    person = paths(make_events(rows), PathsSpec(max_steps=4, scope="person"))
    assert top(person) == [(["H", "S", "H", "S"], 1)]


def test_no_path_reaching_the_anchor_gives_an_empty_result(make_events):
    for events in (make_events(ROWS), make_events([])):
        result = paths(events, PathsSpec(start_point="Nowhere"))
        assert result.to_frame().empty
        assert result.top_paths.empty
        assert [w.code for w in result.warnings] == ["NO_PATHS"]
        body = result.to_dict()
        assert json.loads(json.dumps(body)) == body
        result.figure()


def test_the_result_is_json_ready_and_draws_a_sankey(make_events):
    result = paths(make_events(ROWS), PathsSpec(start_point="H", max_steps=3))
    body = result.to_dict()
    assert json.loads(json.dumps(body)) == body
    assert body["edges"][0] == {
        "source_step": 1,
        "source": "H",
        "target_step": 2,
        "target": "S",
        "paths": 2,
        "persons": 2,
        "share": 2 / 3,
    }
    assert body["nodes"][0] == {"id": "1_H", "step": 1, "node": "H", "paths": 3}
    assert body["top_paths"][0]["path"] == ["H", "S", "P"]
    figure = result.figure()
    assert figure.data[0].type == "sankey"
    assert list(figure.data[0].link.value) == [r["paths"] for r in body["edges"]]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"max_steps": 1}, "greater than or equal to 2"),
        ({"max_steps": 21}, "less than or equal to 20"),
        ({"max_edges": 0}, "greater than or equal to 1"),
        ({"min_edge_weight": 0}, "greater than or equal to 1"),
        ({"start_point": "H", "end_point": "H"}, "must differ"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(spec, problem):
    with pytest.raises(pydantic.ValidationError, match=re.escape(problem)):
        PathsSpec(**spec)


def test_simulated_purchases_follow_the_planted_chain():
    """Web and app orders come after Product Viewed → Product Added → Cart Viewed → Checkout
    Started in the same visit (simulate/journeys.py, orders.py)."""
    sim = jl.simulate(customers=300, days=30, seed=7)
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    noise = ("Element Clicked", "Experiment Viewed", "Page Scrolled")
    spec = PathsSpec(end_point="Order Completed", max_steps=5, exclude=noise)
    result = paths(ws.events(), spec)
    chain = [
        "Product Viewed",
        "Product Added",
        "Cart Viewed",
        "Checkout Started",
        "Order Completed",
    ]
    assert result.top_paths["path"].iloc[0] == chain
    last_edge = result.to_frame().query("target == 'Order Completed'").iloc[0]
    assert last_edge.source == "Checkout Started"
    assert last_edge.share > 0.6


@pytest.mark.spark
def test_spark_finds_the_same_paths(make_events, make_spark_events):
    rows = ROWS + session("s5", "PHPH")
    spec = PathsSpec(start_point="H", max_steps=3, max_edges=4)
    duck = paths(make_events(rows), spec)
    spark = paths(make_spark_events(rows), spec)
    assert spark.to_frame().equals(duck.to_frame())
    assert spark.to_dict() == duck.to_dict()
