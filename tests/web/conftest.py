"""A small demo workspace for the dashboard tests: simulated journeys, two scored models, a saved
segment, keys of every role (one revoked), and a customer whose event name, property and trait
are HTML that must never run."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import journeylens as jl
from journeylens.api.app import create_app
from journeylens.api.keys import KEY_COOKIE
from journeylens.predict import score_model

#: What an attacker sends as an event name, a property and a trait.
SCRIPT = "<script>alert(1)</script>"
IMAGE = '<img src=x onerror="alert(2)">'


@dataclass(frozen=True)
class Demo:
    """The workspace folder and a key of each role (``revoked`` was a read key)."""

    folder: Path
    read: str
    admin: str
    write: str
    revoked: str
    attacker: str  # the person id of the customer who sent HTML


def build_demo(folder: Path) -> Demo:
    """Fill ``folder`` with a 300-customer, 30-day simulation and what the tests need."""
    sim = jl.simulate(customers=300, days=30, seed=1)
    ws = jl.Workspace.open(folder)
    ws.ingest(sim.events)
    latest = ws.events().timestamp.max().to_pyarrow().as_py()
    at = latest.isoformat()
    ws.ingest(
        [
            {
                "type": "identify",
                "messageId": "xss-1",
                "userId": "xss-user",
                "timestamp": at,
                "traits": {"email": "x@example.com", "firstName": IMAGE},
            },
            {
                "type": "track",
                "messageId": "xss-2",
                "userId": "xss-user",
                "event": SCRIPT,
                "timestamp": at,
                "properties": {"note": IMAGE},
            },
        ]
    )
    events = ws.events()
    for model in ("channel", "send_time"):
        rows, _ = score_model(model, events, ws.folder)
        ws.save_predictions(model, rows)
    ws.save_segment("buyers", {"rule": {"kind": "event", "event": "Order Completed"}})
    read, _ = ws.create_key("read", "tests")
    admin, _ = ws.create_key("admin", "tests")
    write, _ = ws.create_key("write", "tests")
    revoked, key = ws.create_key("read", "old")
    ws.revoke_key(key.key_id)
    id_map = ws.table("id_map")
    attacker = id_map.filter(id_map.id_value == "xss-user").person_id.to_pyarrow().to_pylist()[0]
    ws.close()
    return Demo(folder, read, admin, write, revoked, attacker)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo workspace, built once per test module."""
    return build_demo(tmp_path_factory.mktemp("web-demo"))


@pytest.fixture(scope="module")
def read_client(demo: Demo) -> Iterator[TestClient]:
    """A dashboard client on the demo workspace, signed in with its read key."""
    with TestClient(create_app(demo.folder)) as client:
        client.cookies.set(KEY_COOKIE, demo.read)
        yield client


def csv_rows(client: TestClient, path: str) -> list[dict[str, str]]:
    """The rows of the CSV at ``path`` (which must answer 200)."""
    response = client.get(path)
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))
