"""The shipped templates: each validates and, through the pure engine, sends what it promises."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow.compute as pc
import pytest

import journeylens as jl
from journeylens.activate.engine import holdout_group
from journeylens.activate.journey import MESSAGE_CHANNELS, Journey
from journeylens.activate.replay import Replay, replay
from journeylens.activate.state import EventInput, PersonContext, ScoreInput
from journeylens.activate.templates import load_template, templates
from journeylens.activate.timing import next_allowed_send, person_zone
from journeylens.errors import UnknownNameError

T0 = datetime(2026, 1, 5, 3, tzinfo=UTC)  # Monday 12:00 in Seoul
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def treated(journey: Journey, base: str = "p") -> str:
    """A person id in the journey's treatment group."""
    return next(
        f"{base}{i}"
        for i in range(100)
        if holdout_group(journey.id, f"{base}{i}", journey.holdout_share) == "treatment"
    )


def run(journey: Journey, who: PersonContext, *events: tuple[str, datetime]) -> Replay:
    inputs = [
        EventInput(message_id=f"m{i}", event=name, timestamp=at)
        for i, (name, at) in enumerate(events)
    ]
    return replay(journey, who, inputs, until=T0 + 40 * DAY)


def sends(out: Replay) -> list[tuple[str | None, datetime]]:
    return [(a.channel, a.not_before) for a in out.actions]


def test_the_five_templates_are_shipped_and_validate() -> None:
    assert templates() == [
        "browse_abandonment",
        "cart_abandonment",
        "review_request",
        "welcome_series",
        "win_back",
    ]
    for name in templates():
        journey = load_template(name)
        assert Journey.model_validate_json(journey.model_dump_json()) == journey
        assert journey.holdout_share == 0.1


def test_an_unknown_template_suggests_the_closest_name() -> None:
    with pytest.raises(UnknownNameError, match="cart_abandonment"):
        load_template("cart_abandon")


def test_cart_abandonment_sends_web_push_then_email_at_the_best_hour_then_sms() -> None:
    journey = load_template("cart_abandonment")
    who = PersonContext(person_id=treated(journey), timezone="Asia/Seoul", best_send_hour=20)
    out = run(journey, who, ("Product Added", T0))
    # Push 2 h later (14:00 KST); a day later the email waits for 20:00 KST (11:00 UTC); the SMS
    # follows a day after that, at 20:00 KST again.
    assert sends(out) == [
        ("web_push", T0 + 2 * HOUR),
        ("email", T0 + DAY + 8 * HOUR),
        ("sms", T0 + 2 * DAY + 8 * HOUR),
    ]
    assert out.instances[0].status == "exited"
    assert out.instances[0].exit_reason == "completed"


def test_cart_abandonment_stops_as_soon_as_the_order_comes() -> None:
    journey = load_template("cart_abandonment")
    who = PersonContext(person_id=treated(journey), timezone="Asia/Seoul", best_send_hour=20)
    quick = run(journey, who, ("Product Added", T0), ("Order Completed", T0 + HOUR))
    assert sends(quick) == []
    assert quick.instances[0].status == "converted"
    after_push = run(journey, who, ("Product Added", T0), ("Order Completed", T0 + 5 * HOUR))
    assert [c for c, _ in sends(after_push)] == ["web_push"]
    assert after_push.instances[0].status == "converted"


def test_cart_abandonment_holds_a_night_push_until_morning_and_spares_the_holdout() -> None:
    journey = load_template("cart_abandonment")
    # Added at 20:00 in New York: the push is due at 22:00, held until 08:00.
    ny = PersonContext(person_id=treated(journey), timezone="America/New_York")
    added = datetime(2026, 1, 6, 1, tzinfo=UTC)
    out = run(journey, ny, ("Product Added", added))
    assert sends(out)[0] == ("web_push", datetime(2026, 1, 6, 13, tzinfo=UTC))
    held = next(
        f"h{i}" for i in range(1000) if holdout_group(journey.id, f"h{i}", 0.1) == "holdout"
    )
    out = run(journey, ny.model_copy(update={"person_id": held}), ("Product Added", added))
    assert sends(out) == []
    assert [v.outcome for v in out.instances[0].path].count("holdout") == 3


def test_browse_abandonment_reaches_push_lovers_by_push_and_others_by_email() -> None:
    journey = load_template("browse_abandonment")
    pid = treated(journey)
    pusher = PersonContext(person_id=pid, timezone="Asia/Seoul", preferred_channel="push")
    assert [c for c, _ in sends(run(journey, pusher, ("Product Viewed", T0)))] == ["push"]
    mailer = pusher.model_copy(update={"preferred_channel": "email", "best_send_hour": 10})
    # A day after 12:00 KST the best hour 10:00 KST has passed: the next day at 10:00 (01:00 UTC).
    assert sends(run(journey, mailer, ("Product Viewed", T0))) == [
        ("email", T0 + 2 * DAY - 2 * HOUR)
    ]
    assert sends(run(journey, mailer, ("Product Viewed", T0), ("Product Added", T0 + HOUR))) == []


def test_the_welcome_series_sends_three_messages_unless_an_order_comes_first() -> None:
    journey = load_template("welcome_series")
    who = PersonContext(person_id=treated(journey), timezone="Asia/Seoul")
    out = run(journey, who, ("Signed Up", T0))
    assert sends(out) == [("email", T0), ("email", T0 + 2 * DAY), ("push", T0 + 5 * DAY)]
    bought = run(journey, who, ("Signed Up", T0), ("Order Completed", T0 + DAY))
    assert sends(bought) == [("email", T0)]
    assert bought.instances[0].status == "converted"
    # Once per person: signing up again changes nothing.
    assert len(run(journey, who, ("Signed Up", T0), ("Signed Up", T0 + 9 * DAY)).instances) == 1


def test_win_back_reaches_predicted_churners_and_not_the_others() -> None:
    journey = load_template("win_back")
    who = PersonContext(person_id=treated(journey), timezone="Europe/London", best_send_hour=18)
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    low = ScoreInput(model="churn", score=0.3, scored_at=at)
    assert replay(journey, who, [(at, low)], until=at + 40 * DAY).instances == ()
    high = low.model_copy(update={"score": 0.85})
    out = replay(journey, who, [(at, high)], until=at + 40 * DAY)
    assert sends(out) == [
        ("email", datetime(2026, 1, 5, 18, tzinfo=UTC)),
        ("email", datetime(2026, 1, 8, 18, tzinfo=UTC)),
    ]
    sms_fan = who.model_copy(update={"preferred_channel": "sms"})
    visited = EventInput(message_id="v", event="Product Viewed", timestamp=at + 2 * DAY)
    assert [c for c, _ in sends(replay(journey, sms_fan, [(at, high)], until=at + 40 * DAY))] == [
        "email",
        "sms",
    ]
    came_back = replay(journey, sms_fan, [(at, high), visited], until=at + 40 * DAY)
    assert [c for c, _ in sends(came_back)] == ["email"]


def test_the_review_request_asks_five_days_after_an_order_unless_reviewed() -> None:
    journey = load_template("review_request")
    who = PersonContext(person_id=treated(journey), timezone="Asia/Seoul")
    out = run(journey, who, ("Order Completed", T0))
    # Five days later it is 12:00 KST; the ask waits for the fallback hour, 18:00 KST.
    assert sends(out) == [("email", T0 + 5 * DAY + 6 * HOUR)]
    reviewed = run(journey, who, ("Order Completed", T0), ("Product Reviewed", T0 + 3 * DAY))
    assert sends(reviewed) == []
    assert reviewed.instances[0].status == "converted"


# ----------------------------------------------------------------------------- simulated people
@pytest.fixture(scope="module")
def simulated() -> tuple[dict[str, list[EventInput]], dict[str, PersonContext]]:
    """One small simulated shop: each true person's events, and what a runner would know."""
    sim = jl.simulate(customers=400, days=30, seed=7)
    ids = sim.truth.identifiers
    owner = {
        (t, v): k
        for t, v, k in zip(
            ids["id_type"].to_pylist(),
            ids["id_value"].to_pylist(),
            ids["person_key"].to_pylist(),
            strict=False,
        )
    }
    events = sim.events.filter(pc.is_valid(sim.events["event"]))
    by_person: dict[str, list[EventInput]] = defaultdict(list)
    columns = ["message_id", "event", "anonymous_id", "user_id", "timestamp"]
    for row in events.select(columns).to_pylist():
        key = owner.get(("user_id", row["user_id"]))
        if key is None:
            key = owner.get(("anonymous_id", row["anonymous_id"]))
        if key is not None:
            by_person[f"person-{key}"].append(
                EventInput(
                    message_id=row["message_id"], event=row["event"], timestamp=row["timestamp"]
                )
            )
    persons = sim.truth.persons.to_pylist()
    contexts = {}
    for p in persons:
        zone = ZoneInfo(p["timezone"])
        # The truth's preferred hour is in UTC; the engine takes the local hour.
        local = datetime(2026, 1, 15, p["preferred_hour"], tzinfo=UTC).astimezone(zone).hour
        contexts[f"person-{p['person_key']}"] = PersonContext(
            person_id=f"person-{p['person_key']}",
            timezone=p["timezone"],
            best_send_hour=local,
            preferred_channel=(
                p["preferred_channel"] if p["preferred_channel"] in MESSAGE_CHANNELS else None
            ),
        )
    return dict(by_person), contexts


def test_cart_abandonment_on_a_simulated_shop_pushes_exactly_the_unconverted_carts(
    simulated: tuple[dict[str, list[EventInput]], dict[str, PersonContext]],
) -> None:
    journey = load_template("cart_abandonment")
    by_person, contexts = simulated
    until = datetime(2026, 3, 1, tzinfo=UTC)
    pushed, expected, holdout_entries = set(), set(), 0
    for pid, events in by_person.items():
        who = contexts.get(pid, PersonContext(person_id=pid))
        out = replay(journey, who, events, until=until)
        zone = person_zone(who.timezone, journey.timezone_default)
        for action in out.actions:
            if action.channel == "web_push":
                pushed.add((pid, action.entry_key, action.not_before))
        # The oracle: entries are adds at least a day after the previous entry; each treated
        # entry with no order in the next 2 h gets a push at 2 h, held out of the quiet hours.
        last = None
        for ev in sorted(events, key=lambda e: (e.timestamp, e.message_id)):
            if ev.event != "Product Added" or (last is not None and ev.timestamp - last < DAY):
                continue
            last = ev.timestamp
            if holdout_group(journey.id, pid, journey.holdout_share) == "holdout":
                holdout_entries += 1
                continue
            ordered = any(
                o.event == "Order Completed"
                and ev.timestamp < o.timestamp <= ev.timestamp + 2 * HOUR
                for o in events
            )
            if not ordered:
                due = next_allowed_send(ev.timestamp + 2 * HOUR, journey.quiet_hours, zone)
                expected.add((pid, ev.message_id, due))
    assert len(expected) >= 10
    assert pushed == expected
    assert holdout_entries >= 1


@pytest.mark.parametrize("name", ["browse_abandonment", "welcome_series", "review_request"])
def test_every_event_template_runs_on_a_simulated_shop_within_its_rules(
    name: str, simulated: tuple[dict[str, list[EventInput]], dict[str, PersonContext]]
) -> None:
    journey = load_template(name)
    by_person, contexts = simulated
    until = datetime(2026, 3, 1, tzinfo=UTC)
    total = 0
    for pid, events in by_person.items():
        who = contexts.get(pid, PersonContext(person_id=pid))
        out = replay(journey, who, events, until=until)
        total += len(out.actions)
        assert all(not s.live for s in out.instances)
        assert len({a.idempotency_key for a in out.actions}) == len(out.actions)
        if out.instances and out.instances[0].group == "holdout":
            assert out.actions == ()
    assert total > 0
