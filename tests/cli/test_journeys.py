"""``journeylens journeys``: templates, validate, publish, dry-run, run --once, status, pause."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

import journeylens as jl
from journeylens.activate.templates import load_template
from journeylens.cli.main import app

runner = CliRunner()
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def invoke(*args):
    return runner.invoke(app, ["journeys", *args])


@pytest.fixture
def cart_file(tmp_path):
    path = tmp_path / "cart.json"
    body = load_template("cart_abandonment").model_dump(mode="json", exclude_unset=True)
    path.write_text(json.dumps(body | {"holdout_share": 0}))
    return path


@pytest.fixture
def shop(tmp_path):
    """A workspace where ada left a cart and bob bought, received an hour ago."""
    folder = tmp_path / "ws"
    with jl.Workspace.open(folder, clock=lambda: datetime.now(UTC) - timedelta(hours=1)) as ws:
        messages = []
        for uid in ("ada", "bob"):
            messages.append(
                {
                    "type": "identify",
                    "userId": uid,
                    "messageId": f"{uid}-id",
                    "timestamp": T0.isoformat(),
                    "traits": {"email": f"{uid}@x.test"},
                }
            )
        messages += [
            {
                "type": "track",
                "userId": "ada",
                "event": "Product Added",
                "messageId": "a1",
                "timestamp": T0.isoformat(),
            },
            {
                "type": "track",
                "userId": "bob",
                "event": "Product Added",
                "messageId": "b1",
                "timestamp": T0.isoformat(),
            },
            {
                "type": "track",
                "userId": "bob",
                "event": "Order Completed",
                "messageId": "b2",
                "timestamp": (T0 + timedelta(minutes=30)).isoformat(),
            },
        ]
        ws.ingest(messages)
    return folder


def test_templates_lists_the_shipped_journeys():
    result = invoke("templates", "--json")
    assert result.exit_code == 0
    names = [t["template"] for t in json.loads(result.stdout)["templates"]]
    assert "cart_abandonment" in names
    assert "win_back" in names


def test_validate_prints_the_version_or_the_problem(cart_file, tmp_path):
    good = invoke("validate", str(cart_file), "--json")
    assert good.exit_code == 0
    assert json.loads(good.stdout)["nodes"]["web-push"] == "send"
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "id: x\nname: X\nentry: {kind: event, event: A}\nstart: gone\n"
        "nodes: {a: {kind: wait, duration: 1h}}\n"
    )
    bad = invoke("validate", str(broken))
    assert bad.exit_code == 1
    assert "INVALID_INPUT" in bad.stderr
    assert "gone" in bad.stderr


def test_dry_run_replays_history_without_sending(cart_file, shop):
    result = invoke("dry-run", str(cart_file), "-w", str(shop), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["entries"], data["converted"]) == (2, 1)
    # Ada's path runs to its end: web push, then e-mail; she has no phone for the SMS.
    assert data["actions"] == {"web-push": 1, "email": 1}
    cut = json.loads(
        invoke(
            "dry-run", str(cart_file), "-w", str(shop), "--until", "2026-03-02T10:30:00", "--json"
        ).stdout
    )
    assert (cut["actions"], cut["live"]) == ({}, 1)  # two hours had not passed for ada


def test_publish_run_status_and_pause(cart_file, shop, tmp_path):
    published = invoke("publish", str(cart_file), "-w", str(shop), "--json")
    assert json.loads(published.stdout)["status"] == "live"
    record = tmp_path / "sent.jsonl"
    ran = invoke("run", "--once", "-w", str(shop), "--record", str(record), "--json")
    assert ran.exit_code == 0, ran.stderr
    # The events were received before the journey was published: history, not triggers.
    assert json.loads(ran.stdout)["entries"] == 0
    status = invoke("status", "cart-abandonment", "-w", str(shop), "--json")
    assert json.loads(status.stdout)["nodes"][0]["node_id"] == "wait-order"
    listed = json.loads(invoke("status", "-w", str(shop), "--json").stdout)
    assert [j["journey_id"] for j in listed["journeys"]] == ["cart-abandonment"]
    assert invoke("status", "-w", str(shop)).exit_code == 0  # the table renders too
    paused = invoke("pause", "cart-abandonment", "-w", str(shop), "--json")
    assert json.loads(paused.stdout)["status"] == "paused"
    missing = invoke("status", "nope", "-w", str(shop))
    assert missing.exit_code == 1
    assert "UNKNOWN_NAME" in missing.stderr


def test_a_template_prints_as_yaml_that_validates_when_saved(tmp_path):
    shown = invoke("templates", "--show", "cart_abandonment")
    assert shown.exit_code == 0, shown.output
    path = tmp_path / "cart.yaml"
    path.write_text(shown.output)
    checked = invoke("validate", str(path), "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["journey_id"] == "cart-abandonment"


def test_a_template_is_used_as_it_is_by_its_name():
    checked = invoke("validate", "template:welcome_series", "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["journey_id"] == "welcome-series"


def test_an_unknown_template_names_the_ones_there_are():
    for args in (("templates", "--show", "nope"), ("validate", "template:nope")):
        result = invoke(*args)
        assert result.exit_code == 1
        assert "cart_abandonment" in result.output
