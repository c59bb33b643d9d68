"""Per-person features: values on tiny tables, point-in-time correctness, bad input, Spark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.errors import ValidationError
from journeylens.predict.features import FeatureSpec, feature_names, person_features
from tests.analysis.conftest import ORIGIN, events_arrow

AS_OF = ORIGIN + timedelta(days=10)
DAY = 86_400


def events(rows: list[dict[str, Any]]) -> ibis.Table:
    table = ibis.memtable(events_arrow(rows))
    return table.mutate(**{c: table[c].cast("json") for c in ("properties", "context", "traits")})


def row(person: str, event: str, ts: float, **extra: Any) -> dict[str, Any]:
    base = {"person": person, "event": event, "ts": ts, "type": "track", "session_id": "s0"}
    return {**base, **extra}


SHOP = [
    row("a", "Home", 1 * DAY, type="page", channel="Direct", stage="awareness", session_id="s1"),
    row("a", "Product Added", 1 * DAY + 600, channel="Direct", session_id="s1"),
    row("a", "Home", 8 * DAY, type="page", channel="Email", session_id="s2"),
    row("a", "Order Completed", 8 * DAY + 1200, revenue=30.0, session_id="s2"),
    row("a", "Email Delivered", 9 * DAY, channel="Email", session_id="s3"),
    row("a", "Email Delivered", 9 * DAY + 60, channel="Email", session_id="s3"),
    row("a", "Email Opened", 7 * DAY, channel="Email", session_id="s4"),
    row("a", "Survey Responded", 8 * DAY + 3600, properties={"nps": 4}, session_id="s2"),
    row("b", "Email Delivered", 2 * DAY, channel="Email"),
    row(None, "Home", 2 * DAY, type="page"),
]


def test_features_count_orders_sessions_abandoned_carts_and_engagement() -> None:
    frame = person_features(events(SHOP), as_of=AS_OF).execute().set_index("person_id")
    a, b = frame.loc["a"], frame.loc["b"]
    assert list(frame.columns) == list(feature_names())
    assert a.days_since_last_activity == pytest.approx(2 - 3600 / DAY)
    assert (a.orders, a.revenue, a.avg_order_value) == (1, 30.0, 30.0)
    assert a.days_since_last_order == pytest.approx(2 - 1200 / DAY)
    assert a.tenure_days == pytest.approx(9.0)
    # The deliveries are the brand's doing: not activity, not sessions.
    assert (a.events, a.sessions, a.cart_abandonments) == (6, 3, 1)
    assert a.max_session_minutes == pytest.approx(60.0)
    assert (a.email_delivered, a.email_opened, a.email_open_rate) == (2, 1, 0.5)
    assert a.messages_since_last_activity == 2
    assert (a.channel_direct_events, a.channel_email_events) == (2, 2)
    assert (a.feedback_count, a.feedback_avg_score) == (1, 4.0)
    assert a.stage_awareness_events == 1
    # A person who only ever received mail has no activity: recency and rates are undefined.
    assert pd.isna(b.days_since_last_activity)
    assert pd.isna(b.recent_share)
    assert (b.events, b.sessions, b.email_delivered, b.messages_since_last_activity) == (0, 0, 1, 1)
    assert "None" not in frame.index
    assert len(frame) == 2


def test_the_lookback_window_limits_counts_but_not_recency_or_tenure() -> None:
    spec = FeatureSpec(lookback="5d", recent="3d")
    a = person_features(events(SHOP), as_of=AS_OF, spec=spec).execute().iloc[0]
    assert (a.events, a.events_recent, a.orders) == (4, 4, 1)
    assert a.tenure_days == pytest.approx(9.0)
    assert a.sessions_per_day == pytest.approx(2 / 5)


def test_a_non_numeric_feedback_score_is_ignored_not_an_error() -> None:
    rows = [row("a", "Survey Responded", DAY, properties={"nps": "great"})]
    a = person_features(events(rows), as_of=AS_OF).execute().iloc[0]
    assert a.feedback_count == 1
    assert pd.isna(a.feedback_avg_score)


_later = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["Home", "Order Completed", "Email Opened", "Email Delivered"]),
        st.floats(0, 20 * DAY),
    ),
    max_size=6,
)


@cache
def _shop_features() -> pd.DataFrame:
    return person_features(events(SHOP), as_of=AS_OF).execute()


@settings(max_examples=8, deadline=None)
@given(later=_later)
def test_events_at_or_after_as_of_never_change_the_features(later) -> None:
    base = _shop_features()
    extra = [
        row(p, e, (AS_OF - ORIGIN).total_seconds() + s, revenue=5.0, session_id="s1")
        for p, e, s in later
    ]
    changed = person_features(events(SHOP + extra), as_of=AS_OF).execute()
    pd.testing.assert_frame_equal(base, changed)


def test_an_empty_table_gives_an_empty_frame_with_every_column() -> None:
    frame = person_features(events([]), as_of=AS_OF).execute()
    assert frame.empty
    assert list(frame.columns) == ["person_id", *feature_names()]


def test_a_naive_as_of_or_a_raw_events_table_is_refused_with_a_fix() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        person_features(events(SHOP), as_of=datetime(2024, 1, 5))
    with pytest.raises(ValidationError, match="lacks columns session_id"):
        person_features(events(SHOP).drop("session_id", "stage"), as_of=AS_OF)


def test_a_bad_feature_spec_is_a_pydantic_error() -> None:
    with pytest.raises(ValueError, match="lookback"):
        FeatureSpec(lookback="soon")
    with pytest.raises(ValueError, match="extra"):
        FeatureSpec(window="3d")


@pytest.mark.spark
def test_features_on_spark_equal_features_on_duckdb(spark_session) -> None:
    con = ibis.pyspark.connect(spark_session)
    spark_session.createDataFrame(events_arrow(SHOP)).createOrReplaceTempView("jl_predict_feat")
    table = con.table("jl_predict_feat")
    table = table.mutate(**{c: table[c].cast("json") for c in ("properties", "context", "traits")})
    on_spark = person_features(table, as_of=AS_OF).to_pandas()
    on_duckdb = person_features(events(SHOP), as_of=AS_OF).to_pandas()
    pd.testing.assert_frame_equal(
        on_spark.astype("float64", errors="ignore"),
        on_duckdb.astype("float64", errors="ignore"),
        check_dtype=False,
    )


def test_the_feature_names_follow_the_spec() -> None:
    spec = FeatureSpec(channels=("Direct", "Mobile Push Notifications"), messaging=())
    names = feature_names(spec)
    assert "channel_mobile_push_notifications_events" in names
    assert "email_delivered" not in names
    assert AS_OF.tzinfo is UTC
