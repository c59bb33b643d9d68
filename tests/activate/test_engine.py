"""The pure engine: entries, every node kind, goals and exits, holdouts, caps, keys, time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.activate.engine import advance, entry_key, holdout_group
from journeylens.activate.journey import Journey
from journeylens.activate.replay import replay
from journeylens.activate.state import (
    DateInput,
    EntrySummary,
    EventInput,
    InstanceState,
    PersonContext,
    ScoreInput,
    SegmentInput,
    SentRecord,
    TimerInput,
)
from journeylens.activate.timing import in_quiet_hours, person_zone
from journeylens.errors import ValidationError

T0 = datetime(2026, 1, 5, 3, tzinfo=UTC)  # a Monday, 12:00 in Seoul, 22:00 (Sunday) in New York
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def make_journey(nodes: dict[str, Any], start: str | None = None, **changes: Any) -> Journey:
    data: dict[str, Any] = {
        "id": "test",
        "name": "Test",
        "entry": {"kind": "event", "event": "Product Added"},
        "start": start or next(iter(nodes)),
        "nodes": nodes,
        "goal": {"event": "Order Completed", "within": "7d"},
        "holdout_share": 0,
    }
    data.update(changes)
    return Journey.model_validate(data)


def send(channel: str = "email", nxt: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"kind": "send", "channel": channel, "body": f"hello by {channel}", "next": nxt, **extra}


def event(name: str, at: datetime, mid: str | None = None, **props: Any) -> EventInput:
    return EventInput(
        message_id=mid or f"{name}@{at.isoformat()}", event=name, timestamp=at, properties=props
    )


def person(pid: str = "p1", **changes: Any) -> PersonContext:
    return PersonContext(person_id=pid, **changes)


def enter(journey: Journey, who: PersonContext | None = None, at: datetime = T0, **props: Any):
    state, actions = advance(
        None, event("Product Added", at, "m-entry", **props), journey, at, who or person()
    )
    assert state is not None
    return state, actions


def fire(state: InstanceState, journey: Journey, who: PersonContext | None = None):
    assert state.timer is not None
    tick = TimerInput(timer_id=state.timer.id, due_at=state.timer.due_at)
    return advance(state, tick, journey, state.timer.due_at, who or person())


def outcomes(state: InstanceState) -> list[tuple[str, str]]:
    return [(v.node, v.outcome) for v in state.path]


# ----------------------------------------------------------------------------- entry
def test_the_entry_event_starts_an_instance_and_a_send_node_emits_one_message() -> None:
    journey = make_journey({"mail": send()}, goal=None)
    state, actions = enter(journey)
    assert state.entry_key == "once"
    assert state.group == "treatment"
    assert [(a.kind, a.channel, a.node_id) for a in actions] == [("message", "email", "mail")]
    assert actions[0].payload["body"] == "hello by email"
    assert actions[0].not_before == T0
    assert state.status == "exited"
    assert state.exit_reason == "completed"


def test_another_event_or_a_failed_entry_filter_starts_nothing() -> None:
    journey = make_journey(
        {"mail": send()},
        entry={
            "kind": "event",
            "event": "Product Added",
            "filters": [{"property": "price", "operator": "gt", "value": 50}],
        },
    )
    assert advance(None, event("Product Viewed", T0), journey, T0, person()) == (None, [])
    assert advance(None, event("Product Added", T0, price=20), journey, T0, person()) == (None, [])
    state, _ = advance(None, event("Product Added", T0, price=80), journey, T0, person())
    assert state is not None
    assert state.entry_properties == {"price": 80}


def test_once_journeys_enter_a_person_only_once() -> None:
    journey = make_journey({"mail": send()})
    first, _ = enter(journey)
    seen = EntrySummary(
        journey_id="test",
        journey_version=journey.content_hash,
        entry_key=first.entry_key,
        entered_at=T0,
        status="exited",
    )
    later = T0 + 30 * DAY
    assert advance(
        None, event("Product Added", later), journey, later, person(instances=(seen,))
    ) == (None, [])


def test_every_time_journeys_respect_the_minimum_gap_and_never_reenter_one_trigger() -> None:
    journey = make_journey(
        {"w": {"kind": "wait", "duration": "1h", "next": "mail"}, "mail": send()},
        entry_rule={"kind": "every_time", "min_gap": "1d"},
        goal=None,
    )
    adds = [event("Product Added", T0 + h * HOUR, f"add-{h}") for h in (0, 2, 30)]
    out = replay(journey, person(), adds, until=T0 + 3 * DAY)
    assert [s.entry_key for s in out.instances] == ["add-0", "add-30"]
    assert len(out.actions) == 2
    # The trigger already used is refused even when the gap has passed.
    used = EntrySummary(
        journey_id="test",
        journey_version="old",
        entry_key="add-0",
        entered_at=T0 - 9 * DAY,
        status="exited",
    )
    assert advance(None, adds[0], journey, T0, person(instances=(used,))) == (None, [])


def test_a_live_higher_priority_journey_keeps_the_person_and_an_equal_one_does_not() -> None:
    journey = make_journey({"mail": send()}, priority=1)

    def other(priority: int, status: str = "active") -> EntrySummary:
        return EntrySummary(
            journey_id="other",
            journey_version="v",
            entry_key="once",
            entered_at=T0,
            status=status,
            priority=priority,
        )

    ev = event("Product Added", T0)
    assert advance(None, ev, journey, T0, person(instances=(other(2),))) == (None, [])
    assert advance(None, ev, journey, T0, person(instances=(other(1),)))[0] is not None
    assert advance(None, ev, journey, T0, person(instances=(other(5, "exited"),)))[0] is not None


def test_segment_date_and_score_triggers_enter_with_their_own_keys() -> None:
    base = {"mail": send()}
    every = {"kind": "every_time", "min_gap": "1d"}
    seg = make_journey(base, entry={"kind": "segment", "segment": "vip"}, entry_rule=every)
    assert advance(None, SegmentInput(segment="vip", entered=False), seg, T0, person()) == (
        None,
        [],
    )
    state, _ = advance(None, SegmentInput(segment="vip", entered=True), seg, T0, person())
    assert state is not None
    assert state.entry_key == f"vip@{T0.isoformat()}"

    bday = make_journey(
        base,
        entry={"kind": "date", "trait": "birthday", "annual": True, "hour": 9},
        entry_rule=every,
    )
    seoul = person(timezone="Asia/Seoul")
    birthday = DateInput(trait="birthday", value=date(1990, 1, 5))
    # 09:00 KST on 5 January is 00:00 UTC: due at T0 (03:00 UTC), not the evening before.
    assert advance(None, birthday, bday, T0 - 4 * HOUR, seoul) == (None, [])
    state, _ = advance(None, birthday, bday, T0, seoul)
    assert state is not None
    assert state.entry_key == "birthday@2026-01-05"
    assert advance(None, birthday, bday, T0 + 2 * DAY, seoul) == (None, [])

    churn = make_journey(base, entry={"kind": "score", "model": "churn", "at_least": 0.7})
    low = ScoreInput(model="churn", score=0.4, scored_at=T0)
    assert advance(None, low, churn, T0, person()) == (None, [])
    state, _ = advance(None, low.model_copy(update={"score": 0.9}), churn, T0, person())
    assert state is not None
    assert state.entry_key == "once"
    assert entry_key(churn, low, T0) is None


# ----------------------------------------------------------------------------- waits
def test_a_wait_sets_one_timer_and_only_that_timer_once_due_moves_on() -> None:
    journey = make_journey(
        {"w": {"kind": "wait", "duration": "2h", "next": "mail"}, "mail": send()}
    )
    state, actions = enter(journey)
    assert actions == []
    assert state.status == "active"
    assert state.node == "w"
    assert state.timer is not None
    assert state.timer.due_at == T0 + 2 * HOUR
    assert state.timer.kind == "wait"
    early = TimerInput(timer_id=state.timer.id, due_at=state.timer.due_at)
    assert advance(state, early, journey, T0 + HOUR, person()) == (state, [])
    stale = TimerInput(timer_id="not-this-one", due_at=state.timer.due_at)
    assert advance(state, stale, journey, T0 + 3 * HOUR, person()) == (state, [])
    after, actions = fire(state, journey)
    assert [a.node_id for a in actions] == ["mail"]
    assert outcomes(after)[:3] == [("w", "waiting"), ("w", "due"), ("mail", "sent")]
    assert after.status == "waiting"
    assert after.timer is not None
    assert after.timer.kind == "goal_window"


def test_a_wait_for_an_event_follows_the_event_branch_or_the_timeout_branch() -> None:
    journey = make_journey(
        {
            "w": {
                "kind": "wait_event",
                "event": "Cart Viewed",
                "timeout": "2h",
                "next": "yes",
                "timeout_next": "no",
            },
            "yes": send("push"),
            "no": send("sms"),
        }
    )
    state, _ = enter(journey)
    assert state.timer is not None
    assert state.timer.kind == "timeout"
    viewed, actions = advance(state, event("Cart Viewed", T0 + HOUR), journey, T0 + HOUR, person())
    assert [a.channel for a in actions] == ["push"]
    assert ("w", "event") in outcomes(viewed)
    timed_out, actions = fire(state, journey)
    assert [a.channel for a in actions] == ["sms"]
    assert ("w", "timeout") in outcomes(timed_out)


def test_events_before_entry_and_the_entry_event_itself_are_ignored() -> None:
    journey = make_journey(
        {
            "w": {
                "kind": "wait_event",
                "event": "Product Added",
                "timeout": "2h",
                "next": "a",
                "timeout_next": None,
            },
            "a": send(),
        }
    )
    state, _ = enter(journey)
    again = event("Product Added", T0, "m-entry")
    assert advance(state, again, journey, T0, person()) == (state, [])
    old = event("Product Added", T0 - HOUR, "older")
    assert advance(state, old, journey, T0, person()) == (state, [])


def test_an_event_between_the_trigger_and_its_late_processing_still_counts() -> None:
    journey = make_journey(
        {
            "w": {
                "kind": "wait_event",
                "event": "Order Completed",
                "timeout": "2h",
                "next": None,
                "timeout_next": "a",
            },
            "a": send(),
        }
    )
    # The runner enters the person a minute after the add; the order came 10 s after the add.
    added = event("Product Added", T0, "add")
    state, _ = advance(None, added, journey, T0 + timedelta(minutes=1), person())
    assert state is not None
    assert state.triggered_at == T0
    order = event("Order Completed", T0 + timedelta(seconds=10), "order")
    done, _ = advance(state, order, journey, T0 + timedelta(minutes=1), person())
    assert done.status == "converted"


def test_the_best_hour_wait_waits_for_the_persons_local_hour() -> None:
    journey = make_journey(
        {"b": {"kind": "wait_best_hour", "fallback_hour": 9, "next": "mail"}, "mail": send()}
    )
    seoul = person(timezone="Asia/Seoul", best_send_hour=20)
    state, actions = enter(journey, seoul)
    # 12:00 KST now; 20:00 KST is 11:00 UTC.
    assert actions == []
    assert state.timer is not None
    assert state.timer.due_at == T0 + 8 * HOUR
    _, actions = fire(state, journey, seoul)
    assert actions[0].not_before == T0 + 8 * HOUR
    # Without a best hour the fallback (09:00 local) applies: New York, 22:00 now -> 09:00 EST.
    ny = person(timezone="America/New_York")
    state, _ = enter(journey, ny)
    assert state.timer is not None
    assert state.timer.due_at == datetime(2026, 1, 5, 14, tzinfo=UTC)


def test_the_best_hour_wait_goes_on_at_once_in_the_best_hour_or_without_any_hour() -> None:
    now_hour = make_journey({"b": {"kind": "wait_best_hour", "next": "mail"}, "mail": send()})
    _, actions = enter(now_hour, person(timezone="Asia/Seoul", best_send_hour=12))
    assert len(actions) == 1
    _, actions = enter(now_hour, person(timezone="Asia/Seoul"))
    assert len(actions) == 1


def test_a_wait_then_best_hour_follows_the_clock_change_in_new_york() -> None:
    journey = make_journey(
        {
            "w": {"kind": "wait", "duration": "1d", "next": "b"},
            "b": {"kind": "wait_best_hour", "next": "mail"},
            "mail": send(),
        }
    )
    ny = person(timezone="America/New_York", best_send_hour=9)
    at = datetime(2026, 3, 7, 15, tzinfo=UTC)  # 10:00 EST on Saturday
    state, _ = enter(journey, ny, at)
    state, _ = fire(state, journey, ny)  # Sunday 15:00 UTC is 11:00 EDT: past 9
    assert state.timer is not None
    # Monday 09:00 EDT is 13:00 UTC (it was 14:00 UTC before the change).
    assert state.timer.due_at == datetime(2026, 3, 9, 13, tzinfo=UTC)
    _, actions = fire(state, journey, ny)
    assert actions[0].not_before == datetime(2026, 3, 9, 13, tzinfo=UTC)


def test_quiet_hours_in_london_hold_a_send_across_the_autumn_change() -> None:
    journey = make_journey(
        {"w": {"kind": "wait", "duration": "3h", "next": "mail"}, "mail": send()},
        quiet_hours={"start": "22:00", "end": "07:00"},
    )
    london = person(timezone="Europe/London")
    state, _ = enter(journey, london, datetime(2026, 10, 24, 20, tzinfo=UTC))  # 21:00 BST
    _, actions = fire(state, journey, london)
    # Due 00:00 BST; the night is an hour longer: 07:00 GMT on Sunday is 07:00 UTC.
    assert actions[0].not_before == datetime(2026, 10, 25, 7, tzinfo=UTC)


# ----------------------------------------------------------------------------- splits
def test_a_condition_split_reads_traits_scores_and_events_seen_since_entry() -> None:
    journey = make_journey(
        {
            "w": {"kind": "wait", "duration": "1d", "next": "s"},
            "s": {
                "kind": "condition_split",
                "conditions": [
                    {"kind": "trait", "property": "plan", "value": "pro"},
                    {"kind": "score", "model": "clv", "operator": "gte", "value": 100},
                    {
                        "kind": "event",
                        "event": "Cart Viewed",
                        "filters": [{"property": "items", "operator": "gte", "value": 2}],
                    },
                ],
                "then": "vip",
                "otherwise": "std",
            },
            "vip": send("sms"),
            "std": send("email"),
        }
    )
    fan = person(traits={"plan": "pro"}, scores={"clv": 150.0})
    state, _ = enter(journey, fan)
    state, _ = advance(state, event("Cart Viewed", T0 + HOUR, items=1), journey, T0 + HOUR, fan)
    assert fire(state, journey, fan)[1][0].channel == "email"  # the one view had 1 item
    state, _ = advance(
        state, event("Cart Viewed", T0 + 2 * HOUR, items=3), journey, T0 + 2 * HOUR, fan
    )
    assert fire(state, journey, fan)[1][0].channel == "sms"
    poorer = fan.model_copy(update={"scores": {"clv": 50.0}})
    assert fire(state, journey, poorer)[1][0].channel == "email"
    unscored = fan.model_copy(update={"scores": {}})
    assert fire(state, journey, unscored)[1][0].channel == "email"


def test_a_random_split_is_deterministic_and_follows_the_weights() -> None:
    journey = make_journey(
        {
            "r": {
                "kind": "random_split",
                "branches": [{"weight": 3, "next": "a"}, {"weight": 1, "next": "b"}],
            },
            "a": send("email"),
            "b": send("sms"),
        }
    )
    channels = [enter(journey, person(f"p{i}"))[1][0].channel for i in range(2000)]
    assert channels == [enter(journey, person(f"p{i}"))[1][0].channel for i in range(2000)]
    assert 0.72 < channels.count("email") / 2000 < 0.78


def test_a_channel_split_takes_the_preferred_channel_only_when_reachable() -> None:
    journey = make_journey(
        {
            "c": {
                "kind": "channel_split",
                "branches": {"sms": "sms", "push": "push"},
                "otherwise": "mail",
            },
            "sms": send("sms"),
            "push": send("push"),
            "mail": send("email"),
        }
    )

    def channel(**ctx: Any) -> str | None:
        return enter(journey, person(**ctx))[1][0].channel

    assert channel(preferred_channel="sms") == "sms"
    assert channel(preferred_channel="sms", unsubscribed=frozenset({"sms"})) == "email"
    assert channel(preferred_channel="push", reachable=frozenset({"email"})) == "email"
    assert channel(preferred_channel="whatsapp") == "email"
    assert channel() == "email"


# ----------------------------------------------------------------------------- actions
def test_webhook_trait_and_segment_actions_carry_their_payloads() -> None:
    journey = make_journey(
        {
            "h": {
                "kind": "webhook",
                "url": "https://crm.example.com/hook",
                "body": {"tag": "cart"},
                "next": "t",
            },
            "t": {"kind": "update_traits", "traits": {"cart_reminded": True}, "next": "g"},
            "g": {"kind": "add_to_segment", "segment": "reminded"},
        }
    )
    _, actions = enter(journey)
    assert [(a.kind, a.channel) for a in actions] == [
        ("webhook", "webhook"),
        ("update_traits", None),
        ("add_to_segment", None),
    ]
    assert actions[0].payload == {
        "url": "https://crm.example.com/hook",
        "method": "POST",
        "body": {"tag": "cart"},
    }
    assert actions[1].payload == {"traits": {"cart_reminded": True}}
    assert actions[2].payload == {"segment": "reminded"}
    assert len({a.idempotency_key for a in actions}) == 3


def test_a_message_to_an_unsubscribed_or_unreachable_person_is_withheld_and_recorded() -> None:
    journey = make_journey({"mail": send("email", "sms"), "sms": send("sms")})
    state, actions = enter(
        journey, person(unsubscribed=frozenset({"email"}), reachable=frozenset({"email", "push"}))
    )
    assert actions == []
    assert outcomes(state)[:2] == [("mail", "unreachable"), ("sms", "unreachable")]


def test_quiet_hours_hold_a_message_until_they_end_in_the_persons_zone() -> None:
    journey = make_journey({"mail": send()}, quiet_hours={"start": "21:00", "end": "08:00"})
    # 22:00 Sunday in New York -> 08:00 EST Monday = 13:00 UTC.
    _, actions = enter(journey, person(timezone="America/New_York"))
    assert actions[0].not_before == datetime(2026, 1, 5, 13, tzinfo=UTC)
    # 12:00 in Seoul: not quiet.
    assert enter(journey, person(timezone="Asia/Seoul"))[1][0].not_before == T0
    # No zone: the journey's default applies (London: 03:00 -> 08:00 GMT).
    london = make_journey(
        {"mail": send()},
        quiet_hours={"start": "21:00", "end": "08:00"},
        timezone_default="Europe/London",
    )
    assert enter(london)[1][0].not_before == datetime(2026, 1, 5, 8, tzinfo=UTC)


def test_frequency_caps_withhold_a_message_over_the_cap_and_record_it() -> None:
    journey = make_journey(
        {"a": send("email", "b"), "b": send("email", "c"), "c": send("sms")},
        frequency_caps=[{"channel": "email", "limit": 2, "per": "1d"}],
    )
    state, actions = enter(
        journey, person(recent_sends=(SentRecord(channel="email", sent_at=T0 - HOUR),))
    )
    assert [a.node_id for a in actions] == ["a", "c"]
    assert ("b", "capped") in outcomes(state)
    # Sends older than the period do not count; the workspace-wide caps count too.
    old = (SentRecord(channel="email", sent_at=T0 - 2 * DAY),)
    assert len(enter(journey, person(recent_sends=old))[1]) == 3
    from journeylens.activate.journey import FrequencyCap

    total = FrequencyCap(channel="any", limit=1, per="1d")
    assert [a.node_id for a in enter(journey, person(caps=(total,)))[1]] == ["a"]


# ----------------------------------------------------------------------------- goals, exits
def test_the_goal_within_its_window_converts_and_ends_the_instance() -> None:
    journey = make_journey(
        {"w": {"kind": "wait", "duration": "3d", "next": "mail"}, "mail": send()}
    )
    state, _ = enter(journey)
    done, actions = advance(state, event("Order Completed", T0 + DAY), journey, T0 + DAY, person())
    assert actions == []
    assert done.status == "converted"
    assert done.converted_at == T0 + DAY
    assert done.timer is None
    assert done.exit_reason == "goal"
    # A finished instance ignores everything after.
    assert advance(
        done, event("Order Completed", T0 + 2 * DAY), journey, T0 + 2 * DAY, person()
    ) == (done, [])


def test_after_the_path_the_instance_waits_for_the_goal_until_its_window_closes() -> None:
    journey = make_journey({"mail": send()})
    state, _ = enter(journey)
    assert state.status == "waiting"
    assert state.timer is not None
    assert state.timer.due_at == T0 + 7 * DAY
    late = event("Order Completed", T0 + 8 * DAY)
    closed, _ = fire(state, journey)
    assert closed.status == "exited"
    assert closed.exit_reason == "completed"
    assert advance(closed, late, journey, T0 + 8 * DAY, person())[0].converted_at is None
    won, _ = advance(state, event("Order Completed", T0 + 6 * DAY), journey, T0 + 6 * DAY, person())
    assert won.status == "converted"


def test_without_a_goal_exit_a_conversion_is_recorded_and_the_path_goes_on() -> None:
    journey = make_journey(
        {"w": {"kind": "wait", "duration": "1d", "next": "mail"}, "mail": send()},
        exits=[{"kind": "event", "event": "Unsubscribed"}],
    )
    state, _ = enter(journey)
    state, _ = advance(state, event("Order Completed", T0 + HOUR), journey, T0 + HOUR, person())
    assert state.status == "active"
    assert state.converted_at == T0 + HOUR
    done, actions = fire(state, journey)
    assert len(actions) == 1
    assert done.status == "converted"


def test_an_exit_event_and_leaving_a_segment_end_the_instance() -> None:
    journey = make_journey(
        {"w": {"kind": "wait", "duration": "1d", "next": "mail"}, "mail": send()},
        exits=[
            {"kind": "event", "event": "Unsubscribed"},
            {"kind": "segment_left", "segment": "vip"},
        ],
    )
    state, _ = enter(journey)
    gone, _ = advance(state, event("Unsubscribed", T0 + HOUR), journey, T0 + HOUR, person())
    assert gone.status == "exited"
    assert gone.exit_reason == "event:Unsubscribed"
    assert gone.timer is None
    assert advance(state, SegmentInput(segment="other", entered=False), journey, T0, person()) == (
        state,
        [],
    )
    left, _ = advance(state, SegmentInput(segment="vip", entered=False), journey, T0, person())
    assert left.exit_reason == "segment_left"


# ----------------------------------------------------------------------------- holdout, keys
def holdout_person(journey_id: str = "test", share: float = 0.5) -> str:
    return next(
        f"p{i}" for i in range(1000) if holdout_group(journey_id, f"p{i}", share) == "holdout"
    )


def test_the_holdout_walks_the_waits_and_tracks_the_goal_but_gets_no_actions() -> None:
    journey = make_journey(
        {
            "w": {"kind": "wait", "duration": "1d", "next": "mail"},
            "mail": send("email", "h"),
            "h": {"kind": "webhook", "url": "https://x.example"},
        },
        holdout_share=0.5,
    )
    who = person(holdout_person())
    state, _ = enter(journey, who)
    assert state.group == "holdout"
    assert state.timer is not None
    after, actions = fire(state, journey, who)
    assert actions == []
    assert ("mail", "holdout") in outcomes(after)
    assert ("h", "holdout") in outcomes(after)
    won, _ = advance(after, event("Order Completed", T0 + 2 * DAY), journey, T0 + 2 * DAY, who)
    assert won.status == "converted"


def test_the_holdout_share_is_stable_per_journey_and_person() -> None:
    groups = [holdout_group("cart", f"p{i}", 0.1) for i in range(5000)]
    assert groups == [holdout_group("cart", f"p{i}", 0.1) for i in range(5000)]
    assert 0.08 < groups.count("holdout") / 5000 < 0.12
    assert all(holdout_group("cart", f"p{i}", 0.0) == "treatment" for i in range(100))


def test_idempotency_keys_are_the_same_on_replay_and_differ_between_steps_and_persons() -> None:
    journey = make_journey(
        {
            "w": {"kind": "wait", "duration": "1d", "next": "mail"},
            "mail": send("email", "w2"),
            "w2": {"kind": "wait", "duration": "1d", "next": "mail2"},
            "mail2": send("sms"),
        }
    )
    state, _ = enter(journey)
    first = fire(state, journey)
    again = fire(state, journey)
    assert first == again
    keys = [a.idempotency_key for a in first[1]]
    assert len(keys[0]) == 64
    other = fire(enter(journey, person("p2"))[0], journey, person("p2"))[1]
    assert other[0].idempotency_key != keys[0]
    second = fire(first[0], journey)[1]
    assert second[0].idempotency_key not in keys


def test_a_state_is_moved_only_by_its_own_version() -> None:
    journey = make_journey({"w": {"kind": "wait", "duration": "1d", "next": None}})
    state, _ = enter(journey)
    edited = make_journey({"w": {"kind": "wait", "duration": "2d", "next": None}})
    with pytest.raises(ValidationError, match="journey version it entered"):
        advance(state, event("Order Completed", T0), edited, T0, person())


def test_a_state_round_trips_through_json() -> None:
    journey = make_journey(
        {"w": {"kind": "wait", "duration": "1d", "next": "mail"}, "mail": send()}
    )
    state, _ = enter(journey, person(), price=12.5)
    assert InstanceState.model_validate_json(state.model_dump_json()) == state


# ----------------------------------------------------------------------------- properties
CART = make_journey(
    {
        "w": {
            "kind": "wait_event",
            "event": "Order Completed",
            "timeout": "2h",
            "next": None,
            "timeout_next": "push",
        },
        "push": send("web_push", "w2"),
        "w2": {
            "kind": "wait_event",
            "event": "Order Completed",
            "timeout": "1d",
            "next": None,
            "timeout_next": "best",
        },
        "best": {"kind": "wait_best_hour", "fallback_hour": 19, "next": "mail"},
        "mail": send("email", "rand"),
        "rand": {
            "kind": "random_split",
            "branches": [{"weight": 1, "next": "sms"}, {"weight": 1, "next": None}],
        },
        "sms": send("sms"),
    },
    entry_rule={"kind": "every_time", "min_gap": "6h"},
    quiet_hours={"start": "21:00", "end": "08:00"},
    frequency_caps=[{"channel": "any", "limit": 3, "per": "1d"}],
    holdout_share=0.3,
)
ZONES = ["Asia/Seoul", "America/New_York", "Europe/London", None]

histories = st.lists(
    st.tuples(
        st.sampled_from(["Product Added", "Order Completed", "Product Viewed"]),
        st.integers(0, 10 * 24 * 60),
    ),
    max_size=12,
)


def as_events(history: list[tuple[str, int]]) -> list[EventInput]:
    return [event(name, T0 + timedelta(minutes=m), f"m{i}") for i, (name, m) in enumerate(history)]


@settings(max_examples=60, deadline=None)
@given(
    history=histories,
    pid=st.sampled_from(["a", "b", "c", "d"]),
    zone=st.sampled_from(ZONES),
    best=st.one_of(st.none(), st.integers(0, 23)),
)
def test_replaying_the_same_inputs_gives_identical_states_and_actions(
    history: list[tuple[str, int]], pid: str, zone: str | None, best: int | None
) -> None:
    who = person(pid, timezone=zone, best_send_hour=best)
    until = T0 + 20 * DAY
    first = replay(CART, who, as_events(history), until=until)
    second = replay(CART, who, list(reversed(as_events(history))), until=until)
    assert first == second
    assert len({a.idempotency_key for a in first.actions}) == len(first.actions)
    assert all(not s.live for s in first.instances)


@settings(max_examples=60, deadline=None)
@given(
    history=histories,
    pid=st.sampled_from(["a", "b", "c", "d"]),
    zone=st.sampled_from(ZONES),
)
def test_no_message_is_due_before_its_emitting_step_or_inside_quiet_hours(
    history: list[tuple[str, int]], pid: str, zone: str | None
) -> None:
    who = person(pid, timezone=zone)
    quiet = CART.quiet_hours
    assert quiet is not None
    out = replay(CART, who, as_events(history), until=T0 + 20 * DAY)
    emitted_at = {
        (s.entry_key, v.node): v.at for s in out.instances for v in s.path if v.outcome == "sent"
    }
    for action in out.actions:
        assert action.not_before >= emitted_at[(action.entry_key, action.node_id)]
        assert not in_quiet_hours(
            action.not_before, quiet, person_zone(zone, CART.timezone_default)
        )
    holdout = {s.entry_key for s in out.instances if s.group == "holdout"}
    assert not any(a.entry_key in holdout for a in out.actions)
