"""A small served workspace for the API tests: simulated events, one predictions model, one saved
segment, and an API key of each role plus a revoked one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

import journeylens as jl
from journeylens.api.app import create_app
from journeylens.schema import PREDICTIONS_SCHEMA

AS_OF = datetime(2024, 3, 1, tzinfo=UTC)
BUYERS = {"rule": {"kind": "event", "event": "Order Completed", "within": "365d"}}


@dataclass(frozen=True)
class Served:
    """A running app over a small workspace, with a key of each role."""

    client: TestClient
    folder: Path
    keys: dict[str, str]  # write, read, admin, revoked
    person_id: str  # a person with events, identifiers and a churn score
    messages: pa.Table  # every simulated message (canonical rows), to replay

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def churn_rows(people: dict[str, float]) -> pa.Table:
    n = len(people)
    reasons = json.dumps([{"feature": "days_since_last_order", "effect": 0.4}])
    return pa.table(
        {
            "model": ["churn"] * n,
            "model_version": ["v1"] * n,
            "as_of": [AS_OF] * n,
            "person_id": list(people),
            "rank": [None] * n,
            "score": list(people.values()),
            "label": [None] * n,
            "details": ['{"horizon": "90d"}'] * n,
            "reasons": [reasons] * n,
            "scored_at": [AS_OF] * n,
        },
        schema=PREDICTIONS_SCHEMA.to_pyarrow(),
    )


def build(
    folder: Path, *, customers: int = 40, seed: int = 3
) -> tuple[dict[str, str], str, pa.Table]:
    """Fill ``folder`` with a small simulated workspace. Returns keys, a person id, messages."""
    sim = jl.simulate(customers=customers, days=14, seed=seed)
    with jl.Workspace.open(folder) as ws:
        ws.ingest(sim.events, source_name="sim")
        ev = ws.events()
        buyers = ev.filter(ev.event == "Order Completed").person_id.to_pyarrow().to_pylist()
        person_id = sorted(p for p in buyers if p)[0]
        ws.save_predictions("churn", churn_rows({person_id: 0.8}))
        ws.save_segment("buyers", BUYERS)
        keys = {role: ws.create_key(role, f"test {role}")[0] for role in ("write", "read", "admin")}
        revoked, key = ws.create_key("admin", "revoked")
        ws.revoke_key(key.key_id)
        keys["revoked"] = revoked
    return keys, person_id, sim.events


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Served]]:
    """Start an app over a fresh small workspace; every app started is stopped at the end."""
    running: list[TestClient] = []

    def start(**build_options) -> Served:
        folder = tmp_path_factory.mktemp("api")
        keys, person_id, messages = build(folder, **build_options)
        client = TestClient(create_app(folder))
        client.__enter__()
        running.append(client)
        return Served(client, folder, keys, person_id, messages)

    yield start
    for client in running:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def served(serve: Callable[..., Served]) -> Served:
    return serve()
