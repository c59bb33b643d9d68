"""Replaying one person's history through a journey with a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from journeylens.activate.journey import Journey
from journeylens.activate.replay import replay
from journeylens.activate.state import EntrySummary, EventInput, PersonContext, SegmentInput

T0 = datetime(2026, 1, 5, 3, tzinfo=UTC)
HOUR = timedelta(hours=1)

JOURNEY = Journey.model_validate(
    {
        "id": "r",
        "name": "Replay",
        "entry": {"kind": "event", "event": "Product Added"},
        "start": "w",
        "nodes": {
            "w": {"kind": "wait", "duration": "1h", "next": "mail"},
            "mail": {"kind": "send", "channel": "email", "body": "x"},
        },
        "goal": {"event": "Order Completed", "within": "1d"},
        "exits": [{"kind": "goal"}, {"kind": "segment_left", "segment": "vip"}],
        "holdout_share": 0,
    }
)


def ev(name: str, at: datetime, mid: str) -> EventInput:
    return EventInput(message_id=mid, event=name, timestamp=at)


def test_a_timer_due_at_the_instant_of_an_event_fires_first() -> None:
    out = replay(
        JOURNEY,
        PersonContext(person_id="p"),
        [ev("Product Added", T0, "a"), ev("Order Completed", T0 + HOUR, "o")],
        until=T0 + 2 * HOUR,
    )
    assert [a.node_id for a in out.actions] == ["mail"]
    assert out.instances[0].status == "converted"


def test_nothing_after_until_happens_and_the_instance_stays_live() -> None:
    out = replay(
        JOURNEY,
        PersonContext(person_id="p"),
        [ev("Product Added", T0, "a"), ev("Order Completed", T0 + 3 * HOUR, "o")],
        until=T0 + HOUR / 2,
    )
    assert out.actions == ()
    assert out.instances[0].live
    assert out.instances[0].converted_at is None


def test_other_inputs_come_as_timed_pairs_and_earlier_entries_count() -> None:
    out = replay(
        JOURNEY,
        PersonContext(person_id="p"),
        [ev("Product Added", T0, "a"), (T0 + HOUR / 2, SegmentInput(segment="vip", entered=False))],
        until=T0 + 2 * HOUR,
    )
    assert out.instances[0].exit_reason == "segment_left"
    assert out.actions == ()
    before = EntrySummary(
        journey_id="r", journey_version="v0", entry_key="once", entered_at=T0, status="exited"
    )
    known = PersonContext(person_id="p", instances=(before,))
    assert (
        replay(JOURNEY, known, [ev("Product Added", T0, "a")], until=T0 + 2 * HOUR).instances == ()
    )
