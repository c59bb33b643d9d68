"""Sessions: split at gaps longer than the timeout, per person, in a deterministic order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeylens.enrich import split_sessions
from journeylens.errors import InvalidDurationError, ValidationError

EventsBuilder = Callable[[list[dict[str, Any]]], ibis.Table]


def sessions(duck: ibis.BaseBackend, events: ibis.Table, timeout: Any = "30m") -> pd.DataFrame:
    out = split_sessions(events, timeout).select(
        "message_id", "person_id", "session_id", "session_index"
    )
    return duck.execute(out.order_by("message_id")).set_index("message_id")


def test_a_gap_of_exactly_the_timeout_stays_in_the_session_and_a_longer_one_splits(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    events = make_events(
        [
            {"timestamp": 0},
            {"timestamp": 30},  # exactly 30 minutes later: same session
            {"timestamp": 30 + 30 + 1e-6 / 60},  # 30 minutes and one microsecond: new session
        ]
    )
    out = sessions(duck, events)
    assert out.session_index.tolist() == [1, 1, 2]


def test_sessions_are_split_per_person(duck: ibis.BaseBackend, make_events: EventsBuilder) -> None:
    events = make_events(
        [
            {"person_id": "a", "timestamp": 0},
            {"person_id": "b", "timestamp": 20},
            {"person_id": "a", "timestamp": 40},  # 40 minutes after a's last event
            {"person_id": "b", "timestamp": 45},  # 25 minutes after b's last event
        ]
    )
    out = sessions(duck, events)
    assert out.session_index.tolist() == [1, 1, 2, 1]
    assert out.session_id.nunique() == 3


def test_the_session_id_is_the_person_and_the_start_in_epoch_seconds(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    start = pd.Timestamp("2024-03-01 09:00:00.750", tz="UTC")
    events = make_events(
        [
            {"person_id": "p1", "timestamp": start},
            {"person_id": "p1", "timestamp": start + timedelta(minutes=10)},
        ]
    )
    out = sessions(duck, events)
    assert out.session_id.tolist() == [f"p1:{int(start.timestamp())}"] * 2


def test_events_at_the_same_instant_share_a_session_in_message_id_order(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    events = make_events(
        [
            {"message_id": "b", "timestamp": 0},
            {"message_id": "a", "timestamp": 0},
            {"message_id": "c", "timestamp": 90},
        ]
    )
    out = sessions(duck, events)
    assert out.session_index.to_dict() == {"a": 1, "b": 1, "c": 2}


def test_later_events_do_not_change_earlier_session_ids(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    rows: list[dict[str, Any]] = [{"timestamp": 0}, {"timestamp": 100}]
    before = sessions(duck, make_events(rows)).session_id
    after = sessions(duck, make_events([*rows, {"timestamp": 500}])).session_id
    assert after.loc[before.index].tolist() == before.tolist()


def test_an_event_without_a_person_has_no_session(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    out = sessions(duck, make_events([{"person_id": None}]))
    assert out.session_id.isna().all()


@pytest.mark.parametrize("timeout", [timedelta(milliseconds=500), "0.5s"])
def test_a_timeout_under_a_second_is_refused(make_events: EventsBuilder, timeout: Any) -> None:
    with pytest.raises(ValidationError, match="at least one second"):
        split_sessions(make_events([{}]), timeout)


def test_an_unreadable_timeout_is_refused(make_events: EventsBuilder) -> None:
    with pytest.raises(InvalidDurationError):
        split_sessions(make_events([{}]), "thirty minutes")


def test_a_table_without_person_id_is_refused_with_the_column_named(
    make_events: EventsBuilder,
) -> None:
    with pytest.raises(ValidationError, match=r"split_sessions needs columns.*person_id"):
        split_sessions(make_events([{}]).drop("person_id"), "30m")


gaps = st.lists(st.integers(min_value=0, max_value=90), min_size=0, max_size=8)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=st.lists(gaps, min_size=1, max_size=4), seed=st.randoms())
def test_a_person_has_one_session_more_than_gaps_longer_than_the_timeout_in_any_row_order(
    duck: ibis.BaseBackend, make_events: EventsBuilder, people: list[list[int]], seed: Any
) -> None:
    rows: list[dict[str, Any]] = []
    for p, person_gaps in enumerate(people):
        minute = 0
        for gap in [0, *person_gaps]:
            minute += gap
            rows.append({"person_id": f"p{p}", "timestamp": minute})
    rows = [{**row, "message_id": f"m{i:03d}"} for i, row in enumerate(rows)]
    seed.shuffle(rows)
    out = sessions(duck, make_events(rows), "30m")
    for p, person_gaps in enumerate(people):
        mine = out[out.person_id == f"p{p}"]
        expected = 1 + sum(gap > 30 for gap in person_gaps)
        assert mine.session_id.nunique() == expected
        assert mine.session_index.max() == expected
