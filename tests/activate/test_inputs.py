"""What the runner reads each tick: fresh events without rebuilding the workspace, segment
entries and exits from the members' diff, and instances following persons who merged."""

from __future__ import annotations

from datetime import timedelta

from journeylens.activate.inputs import journey_segments, moved_persons
from journeylens.activate.journey import parse_journey
from journeylens.activate.publish import journey_store
from journeylens.activate.templates import load_template

from .test_runner import T0, H, Shop, no_holdout

M = timedelta(minutes=1)


def anonymous(shop, anon: str, event: str, at, mid: str) -> None:
    """A visitor known only by an anonymous id does ``event``."""
    shop.send(
        {
            "type": "track",
            "anonymousId": anon,
            "event": event,
            "messageId": mid,
            "timestamp": at.isoformat(),
        }
    )


def login(shop, uid: str, anon: str, at, mid: str, **traits) -> None:
    """The visitor ``anon`` identifies as user ``uid``: the two become one person."""
    shop.send(
        {
            "type": "identify",
            "userId": uid,
            "anonymousId": anon,
            "messageId": mid,
            "traits": traits,
            "timestamp": at.isoformat(),
        }
    )


def segment_journey(**changes):
    """Enter when someone enters the journey's own rule segment "buyers" (an order within
    30 days): one e-mail."""
    return parse_journey(
        {
            "id": "thanks",
            "name": "Thanks",
            "holdout_share": 0,
            "entry": {
                "kind": "segment",
                "segment": "buyers",
                "rule": {"kind": "event", "event": "Order Completed", "within": "30d"},
            },
            "start": "mail",
            "nodes": {"mail": {"kind": "send", "channel": "email", "body": "Thanks"}},
        }
        | changes
    )


def test_a_tick_reads_new_events_without_rebuilding_the_enriched_events(tmp_path):
    shop = Shop(tmp_path, no_holdout(load_template("cart_abandonment")))
    shop.person("ada")
    shop.track("ada", "Product Added", T0 + M, "a1")
    report = shop.tick(T0 + H)
    assert (report.events, report.entries) == (1, 1)
    assert shop.ws._catalog.get("enriched_version") is None
    shop.track("ada", "Order Completed", T0 + 2 * M, "a2")
    assert shop.tick(T0 + H + M).events == 1  # only what came after the cursor


def test_a_person_entering_the_journeys_segment_enters_and_one_already_in_it_does_not(tmp_path):
    shop = Shop(tmp_path, segment_journey())
    for uid in ("ada", "bob"):
        shop.person(uid)
    shop.track("ada", "Order Completed", T0 + M, "a1")
    first = shop.tick(T0 + H)  # the first look only records who is in it
    assert (first.segment_changes, first.entries) == (0, 0)
    shop.track("bob", "Order Completed", T0 + H + M, "b1")
    too_soon = shop.tick(T0 + H + 2 * M)
    assert too_soon.segment_changes == 0  # segments are evaluated every five minutes
    later = shop.tick(T0 + 2 * H)
    assert (later.segment_changes, later.entries, later.dispatch.sent) == (1, 1, 1)
    assert shop.sent() == [("bob", "mail")]


def test_leaving_the_segment_of_a_segment_left_exit_ends_the_instance(tmp_path):
    journey = parse_journey(
        {
            "id": "cart",
            "name": "Cart",
            "holdout_share": 0,
            "entry": {"kind": "event", "event": "Product Added"},
            "start": "wait",
            "nodes": {
                "wait": {"kind": "wait", "duration": "1d", "next": "mail"},
                "mail": {"kind": "send", "channel": "email", "body": "Still there?"},
            },
            "exits": [{"kind": "segment_left", "segment": "carting"}],
        }
    )
    shop = Shop(tmp_path, journey)
    shop.ws.save_segment(
        "carting", {"rule": {"kind": "event", "event": "Product Added", "within": "3h"}}
    )
    for uid in ("ada", "bob"):
        shop.person(uid)
    shop.track("ada", "Product Added", T0 + M, "a1")
    shop.track("bob", "Product Added", T0 + M, "b1")
    assert shop.tick(T0 + H).entries == 2  # and the segment's first look: both in it
    shop.track("bob", "Product Added", T0 + 3 * H, "b2")  # bob keeps carting
    left = shop.tick(T0 + 4 * H + M)
    assert left.segment_changes == 1
    shop.tick(T0 + 2 * 24 * H)
    assert shop.sent() == [("bob", "mail")]
    reasons = {
        shop.user(r["person_id"]): r["path"][-1]["outcome"]
        for r in journey_store(shop.ws).instance_rows("cart")
    }
    assert reasons == {"ada": "exited:segment_left", "bob": "exited:completed"}


def test_journey_segments_are_keyed_per_journey_and_a_saved_segment_has_no_rule():
    rule_journey = segment_journey()
    keyed = journey_segments([rule_journey, load_template("cart_abandonment")])
    assert list(keyed) == [("thanks", "buyers")]
    assert keyed[("thanks", "buyers")].rule.event == "Order Completed"
    saved = segment_journey(entry={"kind": "segment", "segment": "vip"})
    assert journey_segments([saved]) == {("thanks", "vip"): None}


def test_an_anonymous_cart_follows_the_person_when_they_log_in(tmp_path):
    shop = Shop(tmp_path, no_holdout(load_template("cart_abandonment")))
    anonymous(shop, "anon-1", "Product Added", T0 + M, "x1")
    assert shop.tick(T0 + 10 * M).entries == 1
    [before] = journey_store(shop.ws).instance_rows("cart-abandonment")
    login(shop, "ada", "anon-1", T0 + 20 * M, "x2", email="ada@example.com")
    moved = shop.tick(T0 + 30 * M)
    assert moved.moved == 1
    [after] = journey_store(shop.ws).instance_rows("cart-abandonment")
    assert after["person_id"] != before["person_id"]
    assert shop.user(after["person_id"]) == "ada"
    assert (after["node"], after["status"]) == (before["node"], before["status"])
    shop.tick(T0 + 3 * H)
    assert shop.sent() == [("ada", "web-push")]
    assert shop.tick(T0 + 4 * H).moved == 0


def test_two_carts_of_one_merged_person_leave_one_running_and_the_later_ends_as_merged(tmp_path):
    shop = Shop(tmp_path, no_holdout(load_template("cart_abandonment")))
    shop.person("ada")
    shop.track("ada", "Product Added", T0 + M, "a1")
    anonymous(shop, "anon-2", "Product Added", T0 + 2 * M, "x1")
    assert shop.tick(T0 + 10 * M).entries == 2
    login(shop, "ada", "anon-2", T0 + 20 * M, "x2")
    assert shop.tick(T0 + 30 * M).moved == 1
    rows = journey_store(shop.ws).instance_rows("cart-abandonment")
    assert sorted(r["status"] for r in rows) == ["active", "exited"]
    shop.tick(T0 + 3 * H)
    assert shop.sent() == [("ada", "web-push")]


def test_moved_persons_finds_the_identifier_that_named_a_person_who_is_gone(tmp_path):
    shop = Shop(tmp_path)
    anonymous(shop, "anon-3", "Home", T0, "x1")
    shop.flush()
    [old] = shop.ws.persons().person_id.to_pyarrow().to_pylist()
    login(shop, "cy", "anon-3", T0, "x2")
    shop.flush()
    [new] = shop.ws.persons().person_id.to_pyarrow().to_pylist()
    assert new != old
    assert moved_persons(shop.ws, [old, "p_0000000000000000"]) == {old: new}
    assert moved_persons(shop.ws, []) == {}


def test_an_erased_persons_running_instance_ends_and_sends_nothing(tmp_path):
    shop = Shop(tmp_path, no_holdout(load_template("cart_abandonment")))
    shop.person("ada")
    shop.person("bob")  # erasing every event of a workspace fails in privacy (reported)
    shop.track("ada", "Product Added", T0 + M, "a1")
    shop.tick(T0 + 10 * M)
    [row] = journey_store(shop.ws).instance_rows("cart-abandonment")
    shop.ws.erase_person(row["person_id"])
    assert shop.tick(T0 + 20 * M).moved == 1
    [ended] = journey_store(shop.ws).instance_rows("cart-abandonment")
    assert ended["status"] == "exited"
    shop.tick(T0 + 3 * H)
    assert shop.sent() == []


def test_a_deleted_saved_segment_is_reported_and_the_tick_goes_on(tmp_path):
    journey = parse_journey(
        {
            "id": "cart",
            "name": "Cart",
            "holdout_share": 0,
            "entry": {"kind": "event", "event": "Product Added"},
            "start": "mail",
            "nodes": {"mail": {"kind": "send", "channel": "email", "body": "Still there?"}},
            "exits": [{"kind": "segment_left", "segment": "carting"}],
        }
    )
    shop = Shop(tmp_path, journey)
    shop.person("ada")
    shop.track("ada", "Product Added", T0 + M, "a1")
    report = shop.tick(T0 + H)
    assert "carting" in report.problems[0]
    assert "Save the segment again" in report.problems[0]
    assert (report.entries, report.dispatch.sent) == (1, 1)
