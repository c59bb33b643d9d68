"""Best send time: planted preferred hours are recovered; shrinkage, time zones, cut-off."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from journeylens.errors import ValidationError
from journeylens.predict.channel_preference import preferred_channel
from journeylens.predict.send_time import best_send_time

AS_OF = datetime(2024, 3, 1, tzinfo=UTC)


def _session(person, ts, zone="America/New_York", event="Home"):
    return {
        "person": person,
        "event": event,
        "type": "page",
        "ts": ts,
        "session_id": f"{person}-{ts}",
        "context": {"timezone": zone},
    }


def test_best_hour_is_the_planted_hour_for_most_customers_with_history(planted):
    events, truth, as_of = planted
    found = best_send_time(events, as_of=as_of).merge(truth, on="person_id")
    enough = found[found.events_used >= 20]
    share = (enough.hour_utc == enough.preferred_hour).mean()
    near = ((enough.hour_utc - enough.preferred_hour) % 24).isin([23, 0, 1]).mean()
    print(f"send time: {len(enough)} persons with >= 20 moments, exact {share:.3f}, ±1h {near:.3f}")
    assert len(enough) > 100
    assert share > 0.7
    assert near > 0.9


def test_local_hour_follows_the_persons_time_zone(planted):
    events, truth, as_of = planted
    found = best_send_time(events, as_of=as_of).merge(truth, on="person_id")
    assert (found.timezone == found.planted_timezone).mean() > 0.95
    seoul = found[found.timezone == "Asia/Seoul"]
    assert len(seoul) > 50
    assert ((seoul.hour_utc + 9) % 24 == seoul.local_hour).all()


def test_a_sparse_history_is_pulled_towards_the_population(make_events):
    # Ten persons in New York engage at 23:00 UTC (18:00 local); one has a single 04:00 visit.
    rows = [_session(f"p{i}", 23 * 3600 + day * 86400) for i in range(10) for day in range(5)]
    rows.append(_session("sparse", 4 * 3600))
    found = best_send_time(make_events(rows), as_of=AS_OF, prior_strength=5).set_index("person_id")
    assert found.loc["p0", "hour_utc"] == 23
    assert found.loc["p0", "local_hour"] == 18
    assert found.loc["sparse", "hour_utc"] == 23
    assert found.loc["sparse", "confidence"] < found.loc["p0", "confidence"]
    weak = best_send_time(make_events(rows), as_of=AS_OF, prior_strength=0.1)
    assert weak.set_index("person_id").loc["sparse", "hour_utc"] == 4


def test_hours_wrap_around_midnight(make_events):
    rows = [_session("a", h * 3600 + d * 86400) for d in range(4) for h in (23, 0, 1)]
    rows += [_session("a", 12 * 3600 + 5 * 86400)]
    found = best_send_time(make_events(rows), as_of=AS_OF).set_index("person_id")
    assert found.loc["a", "hour_utc"] == 0


def test_a_message_answer_counts_at_its_send_hour(make_events):
    rows = [
        {
            "person": "a",
            "event": "Email Delivered",
            "ts": 9 * 3600 + d * 86400,
            "properties": {"send_id": f"s{d}"},
        }
        for d in range(3)
    ] + [
        {
            "person": "a",
            "event": "Email Opened",
            "ts": 12 * 3600 + d * 86400,
            "properties": {"send_id": f"s{d}"},
        }
        for d in range(3)
    ]
    found = best_send_time(make_events(rows), as_of=AS_OF).set_index("person_id")
    assert found.loc["a", "hour_utc"] == 9
    assert found.loc["a", "events_used"] == 3
    assert found.loc["a", "timezone"] is None


def test_events_at_or_after_the_cut_off_change_nothing(make_events):
    before = [_session("a", 10 * 3600 + d * 86400) for d in range(3)]
    after = [_session("a", 20 * 3600 + d * 86400) for d in range(40, 50)]
    cut = datetime(2024, 1, 30, tzinfo=UTC)
    alone = best_send_time(make_events(before), as_of=cut)
    more = best_send_time(make_events(before + after), as_of=cut)
    assert alone.drop(columns="reasons").equals(more.drop(columns="reasons"))
    assert list(alone.reasons) == list(more.reasons)


def test_no_events_give_an_empty_frame(make_events):
    found = best_send_time(make_events([_session("a", 10)]), as_of=datetime(2023, 1, 1, tzinfo=UTC))
    assert found.empty
    assert found.columns[0] == "person_id"


def test_bad_arguments_are_refused_clearly(make_events):
    events = make_events([_session("a", 10)])
    with pytest.raises(ValidationError, match="timezone-aware"):
        best_send_time(events, as_of=datetime(2024, 3, 1))
    with pytest.raises(ValidationError, match="prior_strength"):
        best_send_time(events, as_of=AS_OF, prior_strength=0)


@pytest.mark.spark
def test_send_time_and_channel_agree_on_spark_and_duckdb(make_events, make_spark_events):
    rows = [_session("a", 10 * 3600 + d * 86400) for d in range(3)] + [
        {"person": "a", "event": "SMS Delivered", "ts": 5 * 3600, "properties": {"send_id": "s"}},
        {
            "person": "a",
            "event": "SMS Link Clicked",
            "ts": 6 * 3600,
            "properties": {"send_id": "s"},
        },
        {"person": "b", "event": "Email Delivered", "ts": 7 * 3600, "properties": {"send_id": "e"}},
    ]
    for fn in (best_send_time, preferred_channel):
        duck = fn(make_events(rows), as_of=AS_OF)
        spark = fn(make_spark_events(rows), as_of=AS_OF)
        assert duck.astype(str).equals(spark.astype(str))
