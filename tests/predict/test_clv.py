"""CLV from events: the summary (point in time, as lifetimes builds it), CLV and the report."""

from __future__ import annotations

import json
import math
import warnings
from datetime import UTC, datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeylens.errors import InvalidDurationError, UnknownNameError, ValidationError
from journeylens.predict.bgnbd import BetaGeo
from journeylens.predict.clv import clv_summary, customer_lifetime_value, predict_clv
from journeylens.predict.clv_report import ClvReport, clv_report
from journeylens.predict.gamma_gamma import GammaGamma

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value
    from lifetimes.utils import summary_data_from_transaction_data

ORIGIN = datetime(2024, 1, 1, tzinfo=UTC)
AS_OF = datetime(2024, 4, 1, tzinfo=UTC)


def purchases(rows: list[tuple]) -> pd.DataFrame:
    """(person, hours after 2024-01-01, revenue[, event]) rows as an events-like frame."""
    return pd.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "event": [r[3] if len(r) > 3 else "Order Completed" for r in rows],
            "timestamp": [ORIGIN + timedelta(hours=r[1]) for r in rows],
            "revenue": [r[2] for r in rows],
        }
    ).astype({"person_id": object, "timestamp": "datetime64[us, UTC]", "revenue": "float64"})


def table(frame: pd.DataFrame) -> ibis.Table:
    return ibis.memtable(frame)


def random_purchases(n_persons: int, seed: int, days: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for person in range(n_persons):
        rate = rng.gamma(1.0, 0.05)
        start = rng.uniform(0, days * 24 * 0.8)
        life = rng.exponential(days * 24 * 0.7)
        hours = start + np.cumsum(np.r_[0, rng.exponential(24 / rate, 40)])
        for hour in hours[(hours < start + life) & (hours < days * 24)]:
            rows.append((f"p{person:04d}", float(hour), round(float(rng.gamma(2, 20)), 2)))
    return purchases(rows)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return random_purchases(400, seed=11)


def test_the_summary_counts_repeat_units_and_ages_from_the_first_one():
    rows = [
        ("a", 9, 10.0),
        ("a", 14, 2.0),  # same day as the first purchase: not a repeat purchase
        ("a", 24 * 3 + 1, 5.0),
        ("a", 24 * 3 + 20, 7.0),  # same day: one repeat purchase of 12
        ("a", 24 * 9, None),  # a purchase without revenue counts 0
        ("b", 24 * 4, 3.0),
        ("b", 24 * 5, 8.0, "Product Viewed"),  # not a conversion
        (None, 24 * 2, 99.0),  # not a person
    ]
    summary = clv_summary(table(purchases(rows)), as_of=ORIGIN + timedelta(days=11))
    assert summary.to_dict("list") == {
        "person_id": ["a", "b"],
        "frequency": [2, 0],
        "recency": [9.0, 0.0],
        "T": [10.0, 6.0],
        "monetary_value": [6.0, 0.0],
    }
    weekly = clv_summary(table(purchases(rows)), as_of=ORIGIN + timedelta(days=15), unit="W")
    # 2024-01-01 is a Monday: days 0-6 are week 0, days 7-13 week 1, day 14 week 2.
    assert weekly.frequency.tolist() == [1, 0]
    assert weekly["T"].tolist() == [2.0, 2.0]


@pytest.mark.parametrize("unit", ["D", "W"])
def test_the_summary_equals_the_lifetimes_summary_of_the_same_purchases(history, unit):
    ours = clv_summary(table(history), as_of=AS_OF, unit=unit).set_index("person_id")
    transactions = history.assign(timestamp=history.timestamp.dt.tz_localize(None))
    theirs = summary_data_from_transaction_data(
        transactions,
        "person_id",
        "timestamp",
        monetary_value_col="revenue",
        observation_period_end=AS_OF.replace(tzinfo=None) - timedelta(microseconds=1),
        freq=unit,
    )
    theirs = theirs.loc[ours.index]
    np.testing.assert_array_equal(ours.frequency, theirs.frequency)
    np.testing.assert_allclose(ours.recency, theirs.recency)
    np.testing.assert_allclose(ours["T"], theirs["T"])
    np.testing.assert_allclose(ours.monetary_value, theirs.monetary_value)


late_rows = st.lists(
    st.tuples(
        st.sampled_from(["p0001", "p0002", "new"]),
        st.floats(0, 24 * 30),
        st.floats(0, 500),
    ),
    max_size=6,
)


def after_as_of_changed(events: pd.DataFrame, as_of: datetime, late, shift: float):
    """The events with those at or after ``as_of`` moved by ``shift`` hours and ``late`` ones
    (person, hours after ``as_of``, revenue) added."""
    later = events.timestamp >= as_of
    moved = events.timestamp.where(~later, events.timestamp + timedelta(hours=shift))
    hours = (as_of - ORIGIN) / timedelta(hours=1)
    added = purchases([(p, hours + h, v) for p, h, v in late])
    return pd.concat([events.assign(timestamp=moved), added], ignore_index=True)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(late=late_rows, shift=st.floats(0, 24 * 10))
def test_events_at_or_after_as_of_never_change_the_summary(history, late, shift):
    as_of = ORIGIN + timedelta(days=60)
    changed = after_as_of_changed(history, as_of, late, shift)
    pd.testing.assert_frame_equal(
        clv_summary(table(history), as_of=as_of), clv_summary(table(changed), as_of=as_of)
    )


def test_events_at_or_after_as_of_never_change_the_scores(history):
    as_of = ORIGIN + timedelta(days=60)
    late = [("p0001", 0.0, 500.0), ("new", 3.0, 20.0), ("p0002", 100.0, 1.0)]
    changed = after_as_of_changed(history, as_of, late, shift=30.0)
    before = predict_clv(table(history), as_of=as_of)
    after = predict_clv(table(changed), as_of=as_of)
    # Sums in the engine may add in another order: equal up to rounding, not bit for bit.
    pd.testing.assert_frame_equal(before.drop(columns="reasons"), after.drop(columns="reasons"))
    for ours, theirs in zip(before.reasons, after.reasons, strict=True):
        assert [r["feature"] for r in ours] == [r["feature"] for r in theirs]
        assert [r["value"] for r in ours] == pytest.approx([r["value"] for r in theirs], rel=1e-5)


def test_clv_agrees_with_lifetimes_monthly_discounting():
    cdnow = load_cdnow_summary_data_with_monetary_value()
    repeat = cdnow[cdnow.frequency > 0]
    beta_geo = BetaGeo().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    gamma_gamma = GammaGamma().fit(repeat.frequency, repeat.monetary_value)
    bg, gg = BetaGeoFitter(), GammaGammaFitter()
    bg.params_, gg.params_ = pd.Series(beta_geo.params_), pd.Series(gamma_gamma.params_)
    bg.predict = bg.conditional_expected_number_of_purchases_up_to_time  # set by lifetimes' fit
    columns = (cdnow.frequency, cdnow.recency, cdnow["T"], cdnow.monetary_value)
    theirs = gg.customer_lifetime_value(bg, *columns, time=12, discount_rate=0.01, freq="D")
    ours = customer_lifetime_value(
        beta_geo, gamma_gamma, *columns, horizon="360d", discount_rate=0.01, unit="D"
    )
    np.testing.assert_allclose(ours, theirs.to_numpy(), atol=1e-4)


def test_clv_over_a_partial_month_lies_between_the_whole_months():
    beta_geo = BetaGeo().fit([1, 2, 0, 3], [5, 20, 0, 25], [30, 30, 20, 40])
    gamma_gamma = GammaGamma().fit([1, 2, 3], [10.0, 20.0, 15.0])
    args = (beta_geo, gamma_gamma, [2], [20], [30], [20.0])
    one, partial, two = (
        customer_lifetime_value(*args, horizon=h)[0] for h in ("30d", "45d", "60d")
    )
    assert one < partial < two
    undiscounted = customer_lifetime_value(*args, horizon="45d", discount_rate=0.0)[0]
    spend = gamma_gamma.conditional_expected_average_profit([2], [20.0])[0]
    assert undiscounted == pytest.approx(
        spend * beta_geo.conditional_expected_purchases(45, [2], [20], [30])[0]
    )


def test_predicted_clv_is_explained_by_three_factors_that_add_up(history):
    out = predict_clv(table(history), as_of=AS_OF, horizon="90d", discount_rate=0.01)
    assert out.columns.tolist() == [
        "person_id",
        "p_alive",
        "expected_purchases",
        "expected_value",
        "clv",
        "reasons",
    ]
    assert out.attrs["warnings"] == []
    assert out.person_id.is_monotonic_increasing
    assert ((out.p_alive > 0) & (out.p_alive <= 1)).all()
    assert (out.clv <= out.expected_value + 1e-9).all()  # discounting only lowers value
    summary = clv_summary(table(history), as_of=AS_OF)
    x, t_x, big_t, m = (summary[c].to_numpy(float) for c in summary.columns[1:])
    spenders = (x > 0) & (m > 0)
    beta_geo = BetaGeo().fit(x, t_x, big_t)
    gamma_gamma = GammaGamma().fit(x[spenders], m[spenders])
    clv = customer_lifetime_value(beta_geo, gamma_gamma, x, t_x, big_t, m, horizon="90d")
    np.testing.assert_allclose(out.clv, clv, rtol=1e-6)
    newcomer = customer_lifetime_value(beta_geo, gamma_gamma, [0], [0], [0], [0.0], horizon="90d")[
        0
    ]
    for row in out.head(50).itertuples():
        assert {r["feature"] for r in row.reasons} == {"p_alive", "purchase_rate", "average_spend"}
        total = sum(r["contribution"] for r in row.reasons)
        assert total == pytest.approx(math.log(row.clv / newcomer), abs=1e-4)
        sizes = [abs(r["contribution"]) for r in row.reasons]
        assert sizes == sorted(sizes, reverse=True)


def test_given_models_are_used_instead_of_fitting(history):
    beta_geo = BetaGeo().fit([1, 2, 0, 3], [5, 20, 0, 25], [30, 30, 20, 40])
    gamma_gamma = GammaGamma().fit([1, 2, 3], [10.0, 20.0, 15.0])
    out = predict_clv(table(history), as_of=AS_OF, beta_geo=beta_geo, gamma_gamma=gamma_gamma)
    summary = clv_summary(table(history), as_of=AS_OF)
    np.testing.assert_allclose(
        out.p_alive,
        beta_geo.conditional_probability_alive(summary.frequency, summary.recency, summary["T"]),
    )


def test_no_customers_or_no_repeat_customers_give_an_empty_frame_with_a_warning():
    nobody = predict_clv(table(purchases([("a", 10, 5.0, "Product Viewed")])), as_of=AS_OF)
    assert nobody.empty
    assert [w["code"] for w in nobody.attrs["warnings"]] == ["NO_CUSTOMERS"]
    once = predict_clv(table(purchases([("a", 10, 5.0), ("b", 30, 2.0)])), as_of=AS_OF)
    assert once.empty
    assert [w["code"] for w in once.attrs["warnings"]] == ["NO_REPEAT_CUSTOMERS"]
    assert clv_summary(table(purchases([("a", 10, 5.0)])), as_of=ORIGIN).empty


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"as_of": datetime(2024, 4, 1)}, ValidationError, "timezone-aware"),
        ({"value": "revnue"}, UnknownNameError, "did you mean 'revenue'"),
        ({"value": "event"}, ValidationError, "not numeric"),
        ({"unit": "M"}, UnknownNameError, "time unit"),
        ({"conversion": ""}, ValidationError, "event name"),
        ({"discount_rate": -0.1}, ValidationError, "discount_rate"),
        ({"horizon": "90"}, InvalidDurationError, "horizon"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_error(history, kwargs, error, message):
    arguments = {"as_of": AS_OF, **kwargs}
    with pytest.raises(error, match=f"(?i){message}"):
        predict_clv(table(history), **arguments)


def test_the_report_checks_holdout_purchases_by_calibration_frequency():
    events = table(random_purchases(600, seed=5, days=180))
    report = clv_report(events, as_of=ORIGIN + timedelta(days=180), holdout="60d")
    assert isinstance(report, ClvReport)
    assert report.holdout_units == 60
    frame = report.to_frame()
    assert frame.customers.sum() == report.customers
    body = report.to_dict()
    json.dumps(body)
    assert set(body["beta_geo"]) == {"r", "alpha", "a", "b"}
    assert set(body["gamma_gamma"]) == {"p", "q", "v"}
    assert body["expected_total"] == pytest.approx(body["actual_total"], rel=0.35)
    assert isinstance(report.figure(), go.Figure)


def test_a_report_without_customers_is_empty_with_a_warning():
    report = clv_report(table(purchases([("a", 10, 5.0)])), as_of=AS_OF, holdout="95d")
    assert report.to_frame().empty
    assert [w.code for w in report.warnings] == ["NO_CUSTOMERS"]
    json.dumps(report.to_dict())
    assert isinstance(report.figure(), go.Figure)


@pytest.mark.spark
def test_the_summary_is_the_same_on_spark(spark_session, history):
    con = ibis.pyspark.connect(spark_session)
    few = history.head(200)
    spark_session.createDataFrame(few).createOrReplaceTempView("jl_clv_history")
    for unit in ("D", "W"):
        on_spark = clv_summary(con.table("jl_clv_history"), as_of=AS_OF, unit=unit)
        pd.testing.assert_frame_equal(on_spark, clv_summary(table(few), as_of=AS_OF, unit=unit))
