"""Behavioural clusters: engine features, seeded k-means with silhouette choice, descriptions."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pandas as pd
import pydantic
import pytest

import journeylens as jl
from journeylens.analysis.clusters import ClustersSpec, cluster_features, clusters

DAY = 86_400
AS_OF = datetime(2024, 1, 11, tzinfo=UTC)

FEATURE_ROWS = [
    {
        "person": "a",
        "event": "Home",
        "type": "page",
        "ts": 0,
        "session_id": "s1",
        "channel": "Email",
    },
    {
        "person": "a",
        "event": "Buy",
        "ts": 60,
        "session_id": "s1",
        "revenue": 20.0,
        "channel": "Email",
    },
    {"person": "a", "event": "Buy", "ts": 2 * DAY, "session_id": "s2", "revenue": 5.0},
    {"person": "a", "event": "Home", "type": "page", "ts": 3 * DAY, "channel": "Direct"},
    {"person": "b", "type": "identify", "ts": DAY, "traits": {"plan": "pro"}},
    {
        "person": "c",
        "event": "Home",
        "type": "page",
        "ts": 10 * DAY,
        "session_id": "s3",
        "channel": "Direct",
    },
    {"event": "Home", "type": "page", "ts": 5 * DAY},
]


def features(events, **spec):
    table = cluster_features(events, ClustersSpec(**spec), AS_OF).execute()
    return table.sort_values("person_id").set_index("person_id")


def test_features_count_what_each_person_did(make_events):
    table = features(make_events(FEATURE_ROWS), top_events=2, top_channels=2)
    assert list(table.columns) == [
        "events", "sessions", "active_days", "revenue", "event: Home", "event: Buy",
        "recency_days", "channel: Direct", "channel: Email",
    ]  # fmt: skip
    a = table.loc["a"]
    assert (a.events, a.sessions, a.active_days, a.revenue) == (4, 2, 3, 25.0)
    assert (a["event: Home"], a["event: Buy"]) == (2, 2)
    assert a.recency_days == pytest.approx(7.0)
    # a's channel shares are over all four actions, one of which has no channel.
    assert (a["channel: Email"], a["channel: Direct"]) == (0.5, 0.25)


def test_a_person_without_actions_has_zero_counts_and_recency_from_their_first_event(
    make_events,
):
    b = features(make_events(FEATURE_ROWS), top_events=2, top_channels=2).loc["b"]
    assert (b.events, b.sessions, b.revenue, b["event: Home"], b["channel: Email"]) == (
        0, 0, 0, 0, 0
    )  # fmt: skip
    assert b.recency_days == pytest.approx(9.0)


def group_rows(seed: int = 0) -> list[dict]:
    """Twenty heavy buyers and twenty one-page browsers, in shuffled order."""
    rows = []
    for i in range(20):
        buyer = {"person": f"buyer{i:02d}", "event": "Order Completed", "channel": "Email"}
        for k in range(6):
            rows.append(buyer | {"ts": k * DAY + i, "revenue": 50.0 + i, "session_id": f"b{i}{k}"})
        browser = {"person": f"browser{i:02d}", "event": "Home", "type": "page"}
        rows.append(browser | {"ts": 9 * DAY, "session_id": f"w{i}", "channel": "Paid Search"})
    random.Random(seed).shuffle(rows)
    return [row | {"message_id": f"m{n:04d}"} for n, row in enumerate(rows)]


def test_the_silhouette_picks_the_two_planted_groups_and_describes_them(make_events):
    result = clusters(make_events(group_rows()), ClustersSpec(k_max=5))
    assert result.k == 2
    assert max(result.silhouette, key=result.silhouette.get) == 2
    assert set(result.silhouette) == {2, 3, 4, 5}
    groups = result.assignments.groupby("cluster").person_id.apply(
        lambda ids: {i.rstrip("0123456789") for i in ids}
    )
    assert sorted(map(sorted, groups)) == [["browser"], ["buyer"]]
    buyers = result.assignments[result.assignments.person_id.str.startswith("buyer")]
    cluster = int(buyers.cluster.iloc[0])
    text = result.summary.set_index("cluster").description[cluster]
    assert "higher" in text
    profile = result.profile.set_index(["cluster", "feature"])
    assert profile.loc[(cluster, "revenue"), "cluster_mean"] == pytest.approx(6 * (50 + 9.5))
    assert profile.loc[(cluster, "revenue"), "overall_mean"] == pytest.approx(3 * (50 + 9.5))
    assert result.summary.persons.tolist() == [20, 20]


def test_clusters_do_not_depend_on_row_order_and_are_seeded(make_events):
    spec = ClustersSpec(k=3, seed=4)
    first = clusters(make_events(group_rows(1)), spec).assignments
    second = clusters(make_events(group_rows(2)), spec).assignments
    pd.testing.assert_frame_equal(first, second)


def test_too_few_distinct_persons_share_one_cluster_with_a_warning(make_events):
    rows = [{"person": p, "event": "Home", "ts": 0} for p in "abc"]
    result = clusters(make_events(rows), ClustersSpec())
    assert result.assignments.cluster.tolist() == [0, 0, 0]
    assert [w.code for w in result.warnings] == ["TOO_FEW_PERSONS"]
    assert result.k == 1


def test_an_empty_table_gives_an_empty_result_with_a_warning(make_events):
    result = clusters(make_events([]), ClustersSpec())
    assert result.assignments.empty
    assert result.k == 0
    assert [w.code for w in result.warnings] == ["NO_PERSONS"]
    json.dumps(result.to_dict())
    result.figure()


def test_the_result_is_json_ready_and_draws_a_figure(make_events):
    result = clusters(make_events(group_rows()), ClustersSpec(k=2))
    document = json.loads(json.dumps(result.to_dict()))
    assert document["k"] == 2
    assert len(document["clusters"][0]["differences"]) == 3
    assert len(document["assignments"]) == 40
    assert result.figure().data[0].type == "heatmap"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"k": 1}, "greater than or equal to 2"),
        ({"k_max": 50}, "less than or equal to 20"),
        ({"sample_size": 5}, "greater than or equal to 100"),
        ({"clusters": 3}, "Extra inputs"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(spec, problem):
    with pytest.raises(pydantic.ValidationError, match=problem):
        ClustersSpec.model_validate(spec)


def test_clusters_separate_planted_buyers_from_browsers():
    sim = jl.simulate(customers=500, days=30, seed=1)
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    events = ws.events()
    result = clusters(events, ClustersSpec(k=2, seed=0))
    keys = events.select("message_id", "person_id").to_pyarrow().to_pandas()
    keys = keys.merge(sim.truth.messages.to_pandas(), on="message_id")
    owner = keys.groupby("person_id").person_key.agg(lambda s: s.mode().iloc[0])
    orders = sim.truth.persons.to_pandas().set_index("person_key").orders
    buyer = result.assignments.person_id.map(owner).map(orders) > 0
    share = buyer.groupby(result.assignments.cluster).mean()
    # One cluster holds buyers at several times the rate of the other.
    assert share.max() >= 3 * share.min()


@pytest.mark.spark
def test_spark_computes_the_same_feature_table(make_events, make_spark_events):
    rows = group_rows() + FEATURE_ROWS
    spec = ClustersSpec(k_max=4, top_events=3, top_channels=3)
    duck = cluster_features(make_events(rows), spec, AS_OF).execute()
    spark = cluster_features(make_spark_events(rows), spec, AS_OF).execute()
    order = list(duck.columns)
    pd.testing.assert_frame_equal(
        spark[order].sort_values("person_id").reset_index(drop=True),
        duck.sort_values("person_id").reset_index(drop=True),
        check_dtype=False,
    )
