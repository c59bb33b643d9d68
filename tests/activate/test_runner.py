"""The runner over a real workspace with an injected clock: entries, waits, sends, versions,
pauses, retries, crashes around the commit, holdouts and the report."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa
import pytest

import journeylens as jl
from journeylens.activate import runner as runner_module
from journeylens.activate.channels import read_recording
from journeylens.activate.dispatch import recording_channels
from journeylens.activate.journey import parse_journey
from journeylens.activate.publish import (
    journey_store,
    list_journeys,
    pause_journey,
    publish_journey,
)
from journeylens.activate.report import journey_report
from journeylens.activate.runner import run_loop, run_once
from journeylens.activate.templates import load_template
from journeylens.schema import PREDICTIONS_SCHEMA
from journeylens.store.journeys import JourneyStore

from .cart_traffic import cart_traffic, due_before

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
H = timedelta(hours=1)


class Shop:
    """An in-memory workspace whose clock the test moves, with a recording channel."""

    def __init__(self, tmp_path, *journeys) -> None:
        self.now = T0
        self.ws = jl.Workspace.open(clock=lambda: self.now)
        for journey in journeys:
            publish_journey(self.ws, journey, T0 - timedelta(minutes=1))
        self.path = tmp_path / "sent.jsonl"
        self.channels = recording_channels(self.ws, self.path)
        self.pending: list[dict] = []

    def person(self, uid: str, **traits) -> None:
        traits = {"email": f"{uid}@example.com", "phone": "+447700900001"} | traits
        self.send(
            {
                "type": "identify",
                "userId": uid,
                "messageId": f"{uid}-id",
                "traits": traits,
                "timestamp": T0.isoformat(),
            }
        )

    def track(self, uid: str, event: str, at: datetime, mid: str, **properties) -> None:
        self.send(
            {
                "type": "track",
                "userId": uid,
                "event": event,
                "messageId": mid,
                "timestamp": at.isoformat(),
                "properties": properties,
            }
        )

    def send(self, message) -> None:
        self.pending.append(message)

    def flush(self) -> None:
        """Ingest what was sent since the last flush, in one batch (at the clock's time)."""
        if self.pending:
            report = self.ws.ingest(self.pending)
            assert report.rejected_count == 0, report.rejected
            self.pending = []

    def tick(self, at: datetime, **options):
        self.flush()
        self.now = at
        return run_once(self.ws, at, channels=self.channels, **options)

    def sent(self) -> list[tuple[str, str]]:
        """(user, node) of every delivery, in order."""
        return [
            (self.user(r["person_id"]), r["node_id"])
            for r in read_recording(self.path)
            if not r["duplicate"]
        ]

    def user(self, person_id: str) -> str:
        self.flush()
        persons = self.ws.persons()
        row = persons.filter(persons.person_id == person_id).to_pyarrow().to_pylist()[0]
        return row["user_id"]


def edit(journey, **changes):
    """The journey with ``changes`` (rebuilt, so its version is the new content's hash)."""
    return parse_journey(journey.model_dump(mode="json", exclude_unset=True) | changes)


def no_holdout(journey):
    return edit(journey, holdout_share=0.0)


def test_a_cart_left_without_an_order_gets_a_web_push_after_two_hours_and_a_buyer_nothing(
    tmp_path,
):
    shop = Shop(tmp_path, no_holdout(load_template("cart_abandonment")))
    for uid in ("ada", "bob"):
        shop.person(uid)
    shop.track("ada", "Product Added", T0 + timedelta(minutes=5), "a1")
    shop.track("bob", "Product Added", T0 + timedelta(minutes=6), "b1")
    shop.track("bob", "Order Completed", T0 + timedelta(minutes=50), "b2")
    first = shop.tick(T0 + H)
    assert (first.events, first.entries, first.actions) == (3, 2, 0)
    assert shop.sent() == []
    shop.tick(T0 + 3 * H)
    assert shop.sent() == [("ada", "web-push")]
    [row] = journey_store(shop.ws).outbox()
    assert (row["status"], row["channel"], row["recipient"]) == (
        "sent",
        "web_push",
        row["person_id"],
    )


def test_one_long_tick_decides_the_same_sends_as_many_short_ones(tmp_path):
    journey = no_holdout(load_template("cart_abandonment"))
    traffic = cart_traffic(8, days=1, start=T0, seed=3)
    results = []
    for hours in (12, 48):
        shop = Shop(tmp_path / str(hours), journey)
        previous = T0
        for step in range(1, 96 // hours + 1):  # both end four days in
            at = T0 + step * timedelta(hours=hours)
            batch = [m for m in due_before(traffic, at) if m not in due_before(traffic, previous)]
            shop.now = at
            if batch:
                shop.ws.ingest(batch)
            shop.tick(at)
            previous = at
        results.append(sorted(r["idempotency_key"] for r in read_recording(shop.path)))
    assert results[0] == results[1]
    assert len(results[0]) >= 5


def test_a_crash_after_the_commit_sends_the_pending_messages_on_restart_exactly_once(
    tmp_path, monkeypatch
):
    shop = Shop(tmp_path, no_holdout(load_template("cart_abandonment")))
    shop.person("ada")
    shop.track("ada", "Product Added", T0, "a1")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed between commit and dispatch")

    with monkeypatch.context() as patched:
        patched.setattr(runner_module, "dispatch_due", crash)
        with pytest.raises(KeyboardInterrupt):
            shop.tick(T0 + 3 * H)
    assert [r["status"] for r in journey_store(shop.ws).outbox()] == ["pending"]
    restarted = shop.tick(T0 + 3 * H)
    assert (restarted.actions, restarted.dispatch.sent) == (0, 1)
    assert shop.sent() == [("ada", "web-push")]


def test_a_crash_before_the_commit_replays_the_events_into_the_same_single_rows(
    tmp_path, monkeypatch
):
    shop = Shop(tmp_path, no_holdout(load_template("cart_abandonment")))
    shop.person("ada")
    shop.track("ada", "Product Added", T0, "a1")

    def crash(self, changes, now):
        raise KeyboardInterrupt("killed before the commit")

    with monkeypatch.context() as patched:
        patched.setattr(JourneyStore, "commit_tick", crash)
        with pytest.raises(KeyboardInterrupt):
            shop.tick(T0 + 3 * H)
    assert journey_store(shop.ws).counts()["journey_instances"] == 0
    replay = shop.tick(T0 + 3 * H)
    assert (replay.events, replay.entries, replay.actions, replay.dispatch.sent) == (1, 1, 1, 1)
    again = shop.tick(T0 + 3 * H)
    assert (again.events, again.actions, again.dispatch.sent) == (0, 0, 0)
    assert journey_store(shop.ws).counts()["journey_outbox"] == 1


def test_history_received_before_publishing_enters_nobody(tmp_path):
    shop = Shop(tmp_path)
    shop.person("ada")
    shop.track("ada", "Product Added", T0 - 5 * H, "old")
    shop.flush()  # received at T0, before the journey exists
    shop.now = T0 + H
    publish_journey(shop.ws, no_holdout(load_template("cart_abandonment")), T0 + H)
    shop.track("ada", "Product Added", T0 + 2 * H, "new")
    report = shop.tick(T0 + 3 * H)
    assert (report.events, report.entries) == (2, 1)


def test_an_edited_journey_takes_new_entries_while_running_instances_stay_on_their_version(
    tmp_path,
):
    first = no_holdout(load_template("cart_abandonment"))
    shop = Shop(tmp_path, first)
    for uid in ("ada", "bob"):
        shop.person(uid)
    shop.track("ada", "Product Added", T0, "a1")
    shop.tick(T0 + H)
    edited = edit(first, name="Cart abandonment, edited")
    shop.now = T0 + H
    assert publish_journey(shop.ws, edited, T0 + H)["created"]
    shop.track("bob", "Product Added", T0 + 90 * timedelta(minutes=1), "b1")
    shop.tick(T0 + 5 * H)
    versions = {(r["user"], r["version"]) for r in _instances(shop)}
    assert versions == {("ada", first.content_hash), ("bob", edited.content_hash)}
    assert sorted(shop.sent()) == [("ada", "web-push"), ("bob", "web-push")]
    [listed] = list_journeys(shop.ws)
    assert (listed["version"], listed["versions"]) == (edited.content_hash, 2)


def _instances(shop):
    rows = journey_store(shop.ws).instance_rows("cart-abandonment")
    return [{"user": shop.user(r["person_id"]), "version": r["version"]} for r in rows]


def test_a_paused_journey_sends_nothing_until_it_is_resumed(tmp_path):
    shop = Shop(tmp_path, no_holdout(load_template("cart_abandonment")))
    shop.person("ada")
    shop.track("ada", "Product Added", T0, "a1")
    shop.tick(T0 + H)
    pause_journey(shop.ws, "cart-abandonment")
    shop.tick(T0 + 3 * H)
    assert shop.sent() == []
    pause_journey(shop.ws, "cart-abandonment", paused=False)
    shop.tick(T0 + 4 * H)
    assert shop.sent() == [("ada", "web-push")]


class Flaky(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        return None


@pytest.mark.parametrize(("statuses", "outcome"), [([500], "sent"), ([400], "failed")])
def test_a_webhook_answering_500_is_retried_after_backoff_and_a_400_fails_for_good(
    tmp_path, statuses, outcome
):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    server.statuses = list(statuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    hook = parse_journey(
        {
            "id": "hook",
            "name": "Hook",
            "start": "call",
            "holdout_share": 0,
            "entry": {"kind": "event", "event": "Signed Up"},
            "nodes": {"call": {"kind": "webhook", "url": url, "body": {"plan": "pro"}}},
        }
    )
    shop = Shop(tmp_path, hook)
    shop.channels = runner_module.default_channels(shop.ws)
    shop.person("ada")
    shop.track("ada", "Signed Up", T0, "s1")
    try:
        shop.tick(T0 + H)
        [row] = journey_store(shop.ws).outbox()
        assert row["attempts"] == 1
        assert f"HTTP {statuses[0]}" in row["last_error"]
        assert row["status"] == ("pending" if outcome == "sent" else "failed")
        early = shop.tick(T0 + H + timedelta(seconds=10))  # the 30 s backoff has not passed
        assert early.dispatch.sent == 0
        shop.tick(T0 + H + timedelta(seconds=31))
        [row] = journey_store(shop.ws).outbox()
        assert row["status"] == outcome
        assert row["attempts"] == (2 if outcome == "sent" else 1)
    finally:
        server.shutdown()
        server.server_close()


def test_the_holdout_gets_no_messages_and_the_report_compares_goal_rates(tmp_path):
    journey = edit(load_template("cart_abandonment"), holdout_share=0.5)
    shop = Shop(tmp_path, journey)
    users = [f"u{i}" for i in range(40)]
    for i, uid in enumerate(users):
        shop.person(uid)
        shop.track(uid, "Product Added", T0 + timedelta(minutes=i), f"{uid}-add")
    shop.tick(T0 + 3 * H)
    report = journey_report(shop.ws, "cart-abandonment")
    groups = report.groups
    assert groups["holdout"]["instances"] + groups["treatment"]["instances"] == 40
    assert groups["holdout"]["instances"] > 5
    instances = journey_store(shop.ws).instance_rows("cart-abandonment")
    treated = {r["person_id"] for r in instances if r["grp"] == "treatment"}
    sent_to = {r["person_id"] for r in read_recording(shop.path)}
    assert sent_to == treated
    nodes = {n["node_id"]: n for n in report.nodes}
    assert nodes["wait-order"]["entered"] == 40
    assert nodes["web-push"]["sent"] == len(treated)
    assert nodes["wait-day"]["waiting"] == 40
    assert report.lift["method"] == "frequentist"
    assert report.to_dict()["edges"][0] == ["wait-order", "web-push"]
    assert len(report.figure().data) == 1


def test_predicted_churners_enter_the_win_back_journey_once_per_scoring(tmp_path):
    shop = Shop(tmp_path, no_holdout(load_template("win_back")))
    for uid in ("ada", "bob"):
        shop.person(uid)
    shop.flush()
    ids = {shop.user(p): p for p in shop.ws.persons().person_id.to_pyarrow().to_pylist()}
    scored = T0 + H
    shop.ws.save_predictions(
        "churn",
        pa.table(
            {
                "model": ["churn", "churn"],
                "model_version": ["v1", "v1"],
                "as_of": [scored, scored],
                "person_id": [ids["ada"], ids["bob"]],
                "rank": [None, None],
                "score": [0.9, 0.2],
                "label": [None, None],
                "details": ["{}", "{}"],
                "reasons": ["[]", "[]"],
                "scored_at": [scored, scored],
            },
            schema=PREDICTIONS_SCHEMA.to_pyarrow(),
        ),
    )
    assert shop.tick(T0 + 2 * H).entries == 1
    assert shop.tick(T0 + 3 * H).entries == 0  # the same scoring is not offered again
    [row] = journey_store(shop.ws).instance_rows("win-back")
    assert row["person_id"] == ids["ada"]


def test_a_trait_update_reaches_the_profile_once_even_when_replayed(tmp_path):
    vip = parse_journey(
        {
            "id": "vip",
            "name": "VIP",
            "start": "tag",
            "holdout_share": 0,
            "entry": {"kind": "event", "event": "Order Completed"},
            "nodes": {"tag": {"kind": "update_traits", "traits": {"vip": True}}},
        }
    )
    shop = Shop(tmp_path, vip)
    shop.person("ada")
    shop.track("ada", "Order Completed", T0, "o1")
    assert shop.tick(T0 + H).dispatch.sent == 1
    [row] = journey_store(shop.ws).outbox()
    again = runner_module.default_channels(shop.ws)["profile"]
    from journeylens.activate.channels import OutboundMessage

    replay = OutboundMessage(
        row["idempotency_key"],
        "update_traits",
        row["person_id"],
        row["recipient"],
        "vip",
        row["journey_version"],
        "tag",
        json.loads(row["payload"]),
    )
    assert again.send(replay).status == "sent"
    persons = shop.ws.persons().to_pyarrow().to_pylist()
    assert json.loads(persons[0]["traits"])["vip"] is True
    assert shop.ws.info()["events"] == 3  # identify, order, one trait update


def test_the_loop_ticks_until_stopped_and_reports_each_tick(tmp_path):
    shop = Shop(tmp_path, no_holdout(load_template("cart_abandonment")))
    stop, reports = threading.Event(), []

    def seen(report):
        reports.append(report)
        if len(reports) == 2:
            stop.set()

    run_loop(
        shop.ws,
        stop,
        clock=lambda: T0 + H,
        interval_seconds=0.01,
        channels=shop.channels,
        on_tick=seen,
    )
    assert [r.now for r in reports] == [T0 + H, T0 + H]
