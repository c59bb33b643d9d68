"""RFM: recency, frequency and monetary values, rank quintiles with shared ties, segment names."""

from __future__ import annotations

import json
import random

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeylens as jl
from journeylens.analysis.rfm import SEGMENTS, RFMSpec, rfm, rfm_segment_name

DAY = 86_400
ORDER = "Order Completed"


def order(person, day, revenue, **extra):
    return {"person": person, "event": ORDER, "ts": day * DAY, "revenue": revenue, **extra}


# Ten customers: p0 bought once on day 0 ... p9 bought ten times, last on day 9.
ROWS = [order(f"p{i}", day=i - k, revenue=10.0 * (i + 1)) for i in range(10) for k in range(i + 1)]
ROWS += [
    {"person": "x", "event": "Home", "ts": 5 * DAY},
    {"event": ORDER, "ts": 9 * DAY, "revenue": 99.0},
]


def test_recency_frequency_and_monetary_are_per_customer(make_events):
    result = rfm(make_events(ROWS), RFMSpec())
    table = result.customers.set_index("person_id")
    assert list(table.index) == [f"p{i}" for i in range(10)]
    assert table.loc["p3", "frequency"] == 4
    assert table.loc["p3", "monetary"] == pytest.approx(160.0)
    # as_of = day 9, p3's latest order was on day 3.
    assert table.loc["p3", "recency_days"] == pytest.approx(6.0)
    assert str(table.loc["p3", "last_purchase_at"]) == "2024-01-04 00:00:00+00:00"


def test_scores_are_quintiles_of_the_rank(make_events):
    table = rfm(make_events(ROWS), RFMSpec()).customers
    # Ten distinct values: two customers per quintile, the best two score 5.
    assert table.r.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert table.f.tolist() == table.m.tolist() == table.r.tolist()
    assert table.fm.tolist() == table.r.tolist()
    assert table.segment.tolist() == [
        "Lost",
        "Lost",
        "Hibernating",
        "Hibernating",
        "Need Attention",
        "Need Attention",
        "Loyal",
        "Loyal",
        "Champions",
        "Champions",
    ]


def test_tied_values_share_a_score(make_events):
    rows = [order(p, day=1, revenue=10.0) for p in "abcd"] + [order("e", day=2, revenue=50.0)]
    rows += [order("e", day=3, revenue=50.0)]
    table = rfm(make_events(rows), RFMSpec()).customers.set_index("person_id")
    # Four of five customers tie on everything: none is below them, so they all score 1.
    assert table.loc[list("abcd"), ["r", "f", "m"]].values.tolist() == [[1, 1, 1]] * 4
    # e has four customers strictly below: 1 + floor(5 * 4 / 5) = 5.
    assert table.loc["e", ["r", "f", "m", "fm"]].tolist() == [5, 5, 5, 5]


@pytest.mark.parametrize(
    ("r", "fm", "name"),
    [
        (5, 1, "New Customers"),
        (5, 3, "Potential Loyalist"),
        (4, 1, "Promising"),
        (4, 5, "Loyal"),
        (3, 1, "About to Sleep"),
        (3, 3, "Need Attention"),
        (2, 4, "At Risk"),
        (1, 5, "Cannot Lose Them"),
        (1, 2, "Hibernating"),
        (1, 1, "Lost"),
    ],
)
def test_the_grid_names_each_cell(r, fm, name):
    assert rfm_segment_name(r, fm) == name


def test_every_segment_name_is_on_the_grid():
    names = {rfm_segment_name(r, fm) for r in range(1, 6) for fm in range(1, 6)}
    assert names == set(SEGMENTS)


def test_a_custom_purchase_event_and_filters_are_used(make_events):
    rows = [
        {"person": "a", "event": "Renewal", "ts": 0, "revenue": 5.0, "properties": {"plan": "x"}},
        {"person": "a", "event": "Renewal", "ts": DAY, "properties": {"plan": "y"}},
    ]
    spec = RFMSpec(event="Renewal", filters=[{"property": "plan", "value": "y"}])
    table = rfm(make_events(rows), spec).customers
    # The matching renewal has no revenue: it counts as 0.
    assert table[["person_id", "frequency", "monetary"]].values.tolist() == [["a", 1, 0.0]]


def test_segments_summarise_customers_by_segment(make_events):
    summary = rfm(make_events(ROWS), RFMSpec()).segments().set_index("segment")
    assert list(summary.index) == list(SEGMENTS)
    assert summary.loc["Champions", "customers"] == 2
    assert summary.loc["Champions", "share"] == pytest.approx(0.2)
    assert summary.loc["Champions", "frequency"] == pytest.approx(9.5)
    assert summary.loc["Promising", "customers"] == 0


def test_no_purchases_gives_an_empty_result_with_a_warning(make_events):
    for rows in ([], [{"person": "a", "event": "Home", "ts": 0}]):
        result = rfm(make_events(rows), RFMSpec())
        assert result.customers.empty
        assert [w.code for w in result.warnings] == ["NO_PURCHASES"]
        json.dumps(result.to_dict())
        result.figure()


def test_the_result_is_json_ready(make_events):
    document = json.loads(json.dumps(rfm(make_events(ROWS), RFMSpec()).to_dict()))
    assert document["as_of"] == "2024-01-10T00:00:00+00:00"
    assert document["customers"][0]["last_purchase_at"] == "2024-01-01T00:00:00+00:00"
    assert document["segments"][-1] == {
        "segment": "Lost",
        "customers": 2,
        "share": 0.2,
        "recency_days": 8.5,
        "frequency": 1.5,
        "monetary": 25.0,
    }
    assert document["segments"][4]["recency_days"] is None


def test_a_bad_spec_says_what_is_wrong():
    with pytest.raises(pydantic.ValidationError, match="at least 1 character"):
        RFMSpec(event="")
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        RFMSpec.model_validate({"quantiles": 4})


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000))
def test_scores_do_not_depend_on_row_order(make_events, seed):
    rows = [order(f"p{i % 7}", day=i % 5, revenue=float(i % 3)) for i in range(30)]
    expected = rfm(make_events(rows), RFMSpec()).customers
    random.Random(seed).shuffle(rows)
    for i, row in enumerate(rows):
        row["message_id"] = f"m{i}"
    shuffled = rfm(make_events(rows), RFMSpec()).customers
    assert shuffled.equals(expected)


@pytest.fixture(scope="module")
def sim_events():
    sim = jl.simulate(customers=500, days=30, seed=1)
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    return ws.events(), sim.truth


def test_frequency_and_monetary_recover_the_planted_orders(sim_events):
    events, truth = sim_events
    customers = rfm(events, RFMSpec()).customers
    # person_id -> the planted person of its messages; keep persons resolved to one person.
    keys = events.select("message_id", "person_id").to_pyarrow().to_pandas()
    keys = keys.merge(truth.messages.to_pandas(), on="message_id")
    owners = keys.groupby("person_id").person_key.agg(["nunique", "first"])
    clean = owners[owners["nunique"] == 1]["first"]
    planted = truth.persons.to_pandas().set_index("person_key")
    table = customers[customers.person_id.isin(clean.index)].copy()
    table["person_key"] = table.person_id.map(clean)
    table = table.join(planted[["orders", "revenue"]], on="person_key")
    assert len(table) > 50
    assert (table.frequency == table.orders).mean() >= 0.98
    assert (abs(table.monetary - table.revenue) < 0.01).mean() >= 0.98


@pytest.mark.spark
def test_spark_gives_the_same_rfm_as_duckdb(make_events, make_spark_events):
    duck = rfm(make_events(ROWS), RFMSpec()).to_dict()
    assert rfm(make_spark_events(ROWS), RFMSpec()).to_dict() == duck
