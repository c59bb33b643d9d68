"""Quiet hours, best hours and date traits in the person's zone, across DST changes.

2026 changes used below: New York springs forward on 8 March (02:00 EST -> 03:00 EDT) and falls
back on 1 November (02:00 EDT -> 01:00 EST); London on 29 March and 25 October at 01:00 UTC;
Seoul has no daylight-saving time (UTC+9).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeylens.activate.journey import QuietHours
from journeylens.activate.timing import (
    check_instant,
    in_quiet_hours,
    next_allowed_send,
    next_date_occurrence,
    next_local_hour,
    person_zone,
)
from journeylens.errors import ValidationError

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SEOUL = ZoneInfo("Asia/Seoul")
NIGHT = QuietHours(start="21:00", end="08:00")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_send_outside_quiet_hours_goes_at_once() -> None:
    at = utc(2026, 6, 1, 3)  # 12:00 in Seoul
    assert next_allowed_send(at, NIGHT, SEOUL) == at
    assert next_allowed_send(at, None, SEOUL) == at


def test_a_send_at_night_in_seoul_waits_for_eight_local() -> None:
    # 23:30 KST on 1 June -> 08:00 KST on 2 June = 23:00 UTC on 1 June.
    assert next_allowed_send(utc(2026, 6, 1, 14, 30), NIGHT, SEOUL) == utc(2026, 6, 1, 23)


def test_a_send_after_midnight_waits_for_the_same_mornings_end() -> None:
    # 02:00 KST on 2 June is inside the window that started the evening before.
    assert next_allowed_send(utc(2026, 6, 1, 17), NIGHT, SEOUL) == utc(2026, 6, 1, 23)


def test_the_quiet_window_follows_new_york_across_the_spring_change() -> None:
    # 01:00 EST on 8 March; the window ends at 08:00 EDT, which is 12:00 UTC, not 13:00.
    assert next_allowed_send(utc(2026, 3, 8, 6), NIGHT, NY) == utc(2026, 3, 8, 12)
    # The evening before, 08:00 EST was 13:00 UTC.
    assert next_allowed_send(utc(2026, 3, 7, 6), NIGHT, NY) == utc(2026, 3, 7, 13)


def test_a_quiet_window_ending_at_a_skipped_time_ends_just_after_the_gap() -> None:
    late = QuietHours(start="22:00", end="02:30")
    # 00:00 EST on 8 March; 02:30 does not exist that night: 03:30 EDT = 07:30 UTC.
    released = next_allowed_send(utc(2026, 3, 8, 5), late, NY)
    assert released == utc(2026, 3, 8, 7, 30)
    assert not in_quiet_hours(released, late, NY)


def test_the_repeated_autumn_hour_releases_at_each_occurrence_of_the_end() -> None:
    short = QuietHours(start="00:00", end="01:30")
    # 00:30 EDT -> released at the first 01:30 (EDT, 05:30 UTC).
    assert next_allowed_send(utc(2026, 11, 1, 4, 30), short, NY) == utc(2026, 11, 1, 5, 30)
    # 01:00 EST (the second pass through 01:00) is quiet again -> the second 01:30 (06:30 UTC).
    assert next_allowed_send(utc(2026, 11, 1, 6), short, NY) == utc(2026, 11, 1, 6, 30)


def test_the_quiet_window_follows_london_across_the_autumn_change() -> None:
    # 22:00 BST on 24 October -> 08:00 GMT on 25 October = 08:00 UTC.
    assert next_allowed_send(utc(2026, 10, 24, 21), NIGHT, LONDON) == utc(2026, 10, 25, 8)


def test_the_best_hour_is_now_while_the_local_hour_is_the_best_one() -> None:
    at = utc(2026, 6, 1, 11, 20)  # 20:20 KST
    assert next_local_hour(at, 20, SEOUL) == at


def test_the_best_hour_is_later_today_or_tomorrow_in_seoul() -> None:
    assert next_local_hour(utc(2026, 6, 1, 0), 20, SEOUL) == utc(2026, 6, 1, 11)
    assert next_local_hour(utc(2026, 6, 1, 12), 20, SEOUL) == utc(2026, 6, 2, 11)


def test_the_best_hour_moves_by_one_utc_hour_across_the_london_spring_change() -> None:
    assert next_local_hour(utc(2026, 3, 28, 0), 9, LONDON) == utc(2026, 3, 28, 9)
    assert next_local_hour(utc(2026, 3, 29, 0), 9, LONDON) == utc(2026, 3, 29, 8)


def test_a_best_hour_skipped_by_the_spring_change_goes_right_after_the_gap() -> None:
    # 02:00 does not exist in New York on 8 March: 03:00 EDT = 07:00 UTC.
    assert next_local_hour(utc(2026, 3, 8, 5), 2, NY) == utc(2026, 3, 8, 7)


def test_a_best_hour_that_happens_twice_is_taken_at_its_first_occurrence() -> None:
    # 00:00 EDT on 1 November; 01:00 happens at 05:00 UTC (EDT) and 06:00 UTC (EST).
    assert next_local_hour(utc(2026, 11, 1, 4), 1, NY) == utc(2026, 11, 1, 5)


@given(
    at=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
    hour=st.integers(0, 23),
    zone=st.sampled_from([NY, LONDON, SEOUL]),
)
def test_the_best_hour_is_never_before_now_and_within_a_day_and_shows_that_hour(
    at: datetime, hour: int, zone: ZoneInfo
) -> None:
    due = next_local_hour(at, hour, zone)
    assert at <= due <= at + timedelta(hours=26)
    local = due.astimezone(zone)
    # A skipped hour lands one hour later, right after the gap.
    assert local.hour in (hour, (hour + 1) % 24)


@given(
    at=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from([NY, LONDON, SEOUL]),
)
def test_a_held_send_is_released_outside_the_quiet_hours_within_a_night(
    at: datetime, zone: ZoneInfo
) -> None:
    released = next_allowed_send(at, NIGHT, zone)
    assert at <= released <= at + timedelta(hours=12)
    assert not in_quiet_hours(released, NIGHT, zone)


def test_a_birthday_fires_each_year_at_the_local_hour() -> None:
    fire = next_date_occurrence(
        date(1990, 5, 17), offset_days=0, annual=True, hour=9, zone=SEOUL, after=utc(2026, 1, 1)
    )
    assert fire == utc(2026, 5, 17, 0)  # 09:00 KST
    after = next_date_occurrence(
        date(1990, 5, 17), offset_days=0, annual=True, hour=9, zone=SEOUL, after=fire + timedelta(1)
    )
    assert after == utc(2027, 5, 17, 0)


def test_a_29_february_birthday_fires_on_28_february_in_common_years() -> None:
    fire = next_date_occurrence(
        date(2000, 2, 29), offset_days=0, annual=True, hour=10, zone=LONDON, after=utc(2026, 1, 1)
    )
    assert fire == utc(2026, 2, 28, 10)


def test_a_negative_offset_can_fire_in_the_year_before_the_anniversary() -> None:
    fire = next_date_occurrence(
        date(1990, 1, 3), offset_days=-7, annual=True, hour=9, zone=NY, after=utc(2026, 12, 1)
    )
    assert fire == utc(2026, 12, 27, 14)  # 09:00 EST


def test_a_one_off_date_in_the_past_never_fires_again() -> None:
    kwargs = {"offset_days": -3, "annual": False, "hour": 9, "zone": LONDON}
    end = date(2026, 7, 10)
    assert next_date_occurrence(end, after=utc(2026, 7, 1), **kwargs) == utc(2026, 7, 7, 8)
    assert next_date_occurrence(end, after=utc(2026, 7, 8), **kwargs) is None


def test_an_unknown_person_zone_falls_back_to_the_journey_default() -> None:
    assert person_zone("Not/AZone", "Europe/London") == LONDON
    assert person_zone(None, "Asia/Seoul") == SEOUL
    assert person_zone("America/New_York", "UTC") == NY


def test_a_naive_datetime_is_refused_with_a_fix() -> None:
    with pytest.raises(ValidationError, match="time-zone-aware"):
        check_instant(datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="0-23"):
        next_local_hour(utc(2026, 1, 1), 24, SEOUL)
