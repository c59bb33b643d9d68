"""Recommendations: planted category affinity beats popularity; fallbacks, cut-off, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis
import pandas as pd
import pytest

import journeylens as jl
from journeylens.errors import ValidationError
from journeylens.predict.recommend import ItemItemRecommender, interactions, recommend
from journeylens.predict.recommend_eval import evaluate_recommendations, ranking_metrics
from tests.analysis.conftest import events_arrow

AS_OF = datetime(2024, 3, 1, tzinfo=UTC)


def _json(table: ibis.Table) -> ibis.Table:
    return table.mutate(**{c: table[c].cast("json") for c in ("properties", "context", "traits")})


def _events(rows):
    return _json(ibis.memtable(events_arrow(rows)))


def _view(person, product, ts, event="Product Viewed"):
    return {"person": person, "event": event, "ts": ts, "properties": {"product_id": product}}


def _planted(affinity: float):
    sim = jl.simulate(customers=2000, days=90, seed=2, product_affinity=affinity)
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    ws.resolve_identities()
    events = ws.events().cache()
    as_of = events.timestamp.max().to_pyarrow().as_py() + timedelta(seconds=1)
    return evaluate_recommendations(events, as_of=as_of, test_period=timedelta(days=30), k=10)


def test_recommendations_beat_popularity_when_persons_have_a_favourite_category():
    report = _planted(0.8)
    frame = report.to_frame().set_index("model")
    print(frame)
    assert report.persons > 300
    assert (
        frame.loc["item_item", "precision_at_k"] > 1.1 * frame.loc["popularity", "precision_at_k"]
    )
    assert frame.loc["item_item", "map_at_k"] > frame.loc["popularity", "map_at_k"]
    doc = report.to_dict()
    assert doc["models"][0]["model"] == "item_item"
    assert doc["warnings"] == []
    assert len(report.figure().data) == 4


def test_similar_products_come_first_then_bought_together_then_popular():
    rows = [_view("a", "x", 1), _view("a", "y", 2), _view("b", "x", 3)]
    rows += [_view("c", "z", 4, "Order Completed"), _view("c", "w", 5, "Order Completed")]
    rows += [_view("d", "z", 6, "Order Completed"), _view("e", "v", 7), _view("f", "v", 8)]
    events = _events(rows)
    recs = recommend(events, as_of=AS_OF, k=3)
    b = recs[recs.person_id == "b"]
    assert b.product_id.iloc[0] == "y"
    assert b.reason.iloc[0] == "similar to x you looked at"
    d = recs[recs.person_id == "d"]
    assert "z" not in set(d.product_id)  # already bought
    assert d.product_id.iloc[0] == "w"
    assert d.reason.iloc[0] in ("similar to z you bought", "bought together with z")
    assert list(recs.columns) == ["person_id", "rank", "product_id", "score", "reason"]
    assert (recs.groupby("person_id")["rank"].apply(list).map(lambda r: r == sorted(r))).all()


def test_a_cold_person_gets_the_most_popular_products():
    rows = [_view(p, "x", i) for i, p in enumerate("abc")] + [_view("a", "y", 9)]
    rows += [{"person": "cold", "event": "Home", "type": "page", "ts": 10}]
    recs = recommend(_events(rows), as_of=AS_OF, k=2)
    cold = recs[recs.person_id == "cold"]
    assert cold.product_id.tolist() == ["x", "y"]
    assert set(cold.reason) == {"popular"}


def test_order_lines_name_their_products():
    order = {
        "person": "a",
        "event": "Order Completed",
        "ts": 1,
        "properties": {"products": [{"product_id": "x"}, {"product_id": "y"}]},
    }
    pairs = interactions(_events([order]), as_of=AS_OF)
    assert pairs.product_id.tolist() == ["x", "y"]
    assert pairs.purchased.all()
    assert (pairs.weight == 5).all()


def test_events_at_or_after_the_cut_off_change_nothing():
    before = [_view("a", "x", 1), _view("a", "y", 2), _view("b", "x", 3)]
    after = [_view("b", "z", 86400 * 40), _view("c", "z", 86400 * 41)]
    cut = datetime(2024, 1, 20, tzinfo=UTC)
    alone = recommend(_events(before), as_of=cut)
    more = recommend(_events(before + after), as_of=cut)
    pd.testing.assert_frame_equal(alone, more)


def test_ranking_metrics_follow_their_definitions():
    recs = pd.DataFrame(
        {"person_id": ["a", "a", "b"], "rank": [1, 2, 1], "product_id": ["x", "y", "q"]}
    )
    relevant = pd.Series({"a": {"x", "z"}, "b": {"r"}})
    got = ranking_metrics(recs, relevant, 2)
    assert got["precision"].tolist() == [0.5, 0.25]
    assert got["recall"].tolist() == [0.25, 0.25]
    assert got["map"].tolist() == [0.5, 0.25]


def test_nothing_to_recommend_gives_empty_results():
    events = _events([{"person": "a", "event": "Home", "type": "page", "ts": 1}])
    assert recommend(events, as_of=AS_OF).empty
    report = evaluate_recommendations(events, as_of=AS_OF)
    assert [w.code for w in report.warnings] == ["NO_TEST_PERSONS"]
    assert report.to_dict()["persons"] == 0


def test_bad_arguments_are_refused_clearly():
    events = _events([_view("a", "x", 1)])
    with pytest.raises(ValidationError, match="timezone-aware"):
        recommend(events, as_of=datetime(2024, 3, 1))
    with pytest.raises(ValidationError, match="k must"):
        recommend(events, as_of=AS_OF, k=0)
    with pytest.raises(ValidationError, match="weights"):
        recommend(events, as_of=AS_OF, weights={"Product Viewed": -1})
    with pytest.raises(ValidationError, match="neighbours"):
        recommend(events, as_of=AS_OF, model=ItemItemRecommender(neighbours=0))
    with pytest.raises(ValidationError, match="lacks columns"):
        ItemItemRecommender().fit(pd.DataFrame({"person_id": ["a"]}))
