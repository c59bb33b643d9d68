"""The journey map follows journeys through the stages and ranks where they end unconverted."""

from __future__ import annotations

import json
import re

import pyarrow.compute as pc
import pydantic
import pytest

import journeylens as jl
from journeylens.analysis.journey_map import JourneyMapSpec, journey_map

STAGE = {
    "Home": "awareness",
    "Product Viewed": "consideration",
    "Checkout Started": "purchase",
    "Order Completed": "purchase",
    "Product Reviewed": "advocacy",
}


def session(sid: str, names: list[str], person: str | None = None, start: int = 0) -> list[dict]:
    return [
        {"person": person or sid, "session_id": sid, "event": n, "stage": STAGE[n], "ts": start + i}
        for i, n in enumerate(names)
    ]


ROWS = (
    session("s1", ["Home", "Product Viewed", "Checkout Started", "Order Completed"])
    + session("s2", ["Home", "Product Viewed", "Checkout Started"])
    + session("s3", ["Home", "Product Viewed"])
    + session("s4", ["Home"])
    + session("s5", ["Order Completed", "Product Reviewed"])
)


def test_journeys_convert_when_they_contain_the_conversion_event(make_events):
    result = journey_map(make_events(ROWS), JourneyMapSpec())
    assert (result.journeys, result.converted_journeys, result.persons) == (5, 2, 5)
    assert result.conversion_rate == pytest.approx(0.4)


def test_stages_count_the_journeys_reaching_them_and_their_conversion(make_events):
    stages = journey_map(make_events(ROWS), JourneyMapSpec()).stages.set_index("stage")
    assert stages.index.tolist() == ["awareness", "consideration", "purchase", "advocacy"]
    assert stages["journeys"].tolist() == [4, 3, 3, 1]
    assert stages["events"].tolist() == [4, 3, 4, 1]
    assert stages.loc["purchase", "converted_journeys"] == 2
    assert stages.loc["consideration", "conversion_rate"] == pytest.approx(1 / 3)
    assert stages.loc["awareness", "share"] == pytest.approx(0.8)


def test_drop_offs_rank_the_last_steps_of_unconverted_journeys(make_events):
    drops = journey_map(make_events(ROWS), JourneyMapSpec()).to_frame()
    assert drops[["stage", "node", "journeys_ended", "journeys_reached"]].values.tolist() == [
        ["awareness", "Home", 1, 4],
        ["consideration", "Product Viewed", 1, 3],
        ["purchase", "Checkout Started", 1, 2],
    ]
    assert drops["share"].tolist() == pytest.approx([1 / 3] * 3)
    assert drops["drop_off_rate"].tolist() == pytest.approx([1 / 4, 1 / 3, 1 / 2])


def test_stage_flows_run_from_start_to_converted_or_end(make_events):
    flows = journey_map(make_events(ROWS), JourneyMapSpec()).stage_flows
    moves = {(r.source, r.target): r.transitions for r in flows.itertuples()}
    assert moves == {
        ("[start]", "awareness"): 4,
        ("[start]", "purchase"): 1,
        ("awareness", "consideration"): 3,
        ("awareness", "[end]"): 1,
        ("consideration", "purchase"): 2,
        ("consideration", "[end]"): 1,
        ("purchase", "purchase"): 1,
        ("purchase", "[converted]"): 1,
        ("purchase", "advocacy"): 1,
        ("purchase", "[end]"): 1,
        ("advocacy", "[converted]"): 1,
    }


def test_the_biggest_event_flows_carry_their_stages(make_events):
    flows = journey_map(make_events(ROWS), JourneyMapSpec(max_flows=2)).flows
    assert flows[
        ["source_stage", "source", "target_stage", "target", "transitions"]
    ].values.tolist() == [
        ["awareness", "Home", "consideration", "Product Viewed", 3],
        ["consideration", "Product Viewed", "purchase", "Checkout Started", 2],
    ]


def test_conversion_counts_even_when_cleaning_removes_the_event(make_events):
    result = journey_map(make_events(ROWS), JourneyMapSpec(exclude=["Order Completed"]))
    assert result.converted_journeys == 2
    # s1 now ends at Checkout Started, but it converted, so it is no drop-off.
    drops = result.to_frame().set_index("node")
    assert drops.loc["Checkout Started", "journeys_ended"] == 1


def test_the_conversion_event_and_scope_are_configurable(make_events):
    rows = session("s1", ["Home"], person="a") + session("s2", ["Product Viewed"], "a", 99)
    by_person = journey_map(make_events(rows), JourneyMapSpec(scope="person"))
    assert (by_person.journeys, by_person.persons) == (1, 1)
    viewed = journey_map(make_events(rows), JourneyMapSpec(conversion_event="Product Viewed"))
    assert (viewed.journeys, viewed.converted_journeys) == (2, 1)
    assert viewed.to_frame()["node"].tolist() == ["Home"]


def test_events_without_a_stage_are_mapped_to_none(make_events):
    rows = [{"person": "a", "session_id": "s", "event": "Mystery", "ts": 0}]
    result = journey_map(make_events(rows), JourneyMapSpec())
    assert result.stages["stage"].tolist() == ["[none]"]
    assert [w.code for w in result.warnings] == ["NO_CONVERSIONS"]


def test_an_empty_table_gives_an_empty_map_with_a_warning(make_events):
    result = journey_map(make_events([]), JourneyMapSpec())
    assert (result.journeys, result.conversion_rate) == (0, None)
    assert result.to_frame().empty
    assert result.stages.empty
    body = result.to_dict()
    assert json.loads(json.dumps(body)) == body
    assert body["warnings"][0]["code"] == "NO_PATHS"
    result.figure()


def test_the_result_is_json_ready_and_draws_a_stage_sankey(make_events):
    result = journey_map(make_events(ROWS), JourneyMapSpec())
    body = result.to_dict()
    assert json.loads(json.dumps(body)) == body
    assert body["conversion_rate"] == pytest.approx(0.4)
    sankey = result.figure().data[0]
    assert sankey.type == "sankey"
    assert list(sankey.node.label) == [
        "[start]",
        "awareness",
        "consideration",
        "purchase",
        "advocacy",
        "[converted]",
        "[end]",
    ]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"conversion_event": ""}, "at least 1 character"),
        ({"max_flows": 0}, "greater than or equal to 1"),
        ({"max_drop_offs": 501}, "less than or equal to 500"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(spec, problem):
    with pytest.raises(pydantic.ValidationError, match=re.escape(problem)):
        JourneyMapSpec(**spec)


def test_simulated_orders_and_abandoned_checkouts_are_recovered():
    """Each simulated ordering visit is one session with one Order Completed; visits that start
    checkout without ordering end there (the abandonment ladder in simulate/visits.py)."""
    sim = jl.simulate(customers=300, days=30, seed=7)
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    result = journey_map(ws.events(), JourneyMapSpec(max_drop_offs=50))
    ordered_visits = pc.sum(sim.truth.visits["ordered"]).as_py()
    # Two ordering visits of one person within 30 minutes would share a session.
    assert 0.95 * ordered_visits <= result.converted_journeys <= ordered_visits
    drops = result.to_frame()
    purchase = drops[drops.stage == "purchase"]
    assert purchase["node"].iloc[0] == "Checkout Started"
    stages = result.stages.set_index("stage")
    assert stages.loc["purchase", "conversion_rate"] > stages.loc["awareness", "conversion_rate"]


@pytest.mark.spark
def test_spark_draws_the_same_map(make_events, make_spark_events):
    duck = journey_map(make_events(ROWS), JourneyMapSpec())
    spark = journey_map(make_spark_events(ROWS), JourneyMapSpec())
    assert spark.to_dict() == duck.to_dict()
