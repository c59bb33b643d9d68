"""``/api/journeys``: publish versions, list, per-node status, pause and resume, the roles they
need, and the runner thread the server starts (or not, with ``run_journeys`` off)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from journeylens.activate.templates import load_template
from journeylens.api.app import create_app


def definition(**changes):
    journey = load_template("cart_abandonment")
    return journey.model_dump(mode="json", exclude_unset=True) | changes


def test_an_admin_publishes_a_journey_and_a_new_version_when_it_is_edited(served):
    client, admin = served.client, served.headers("admin")
    first = client.post("/api/journeys", json=definition(), headers=admin)
    assert first.status_code == 201
    body = first.json()
    assert (body["journey_id"], body["created"], body["status"]) == (
        "cart-abandonment",
        True,
        "live",
    )
    again = client.post("/api/journeys", json=definition(), headers=admin).json()
    assert again["created"] is False
    edited = client.post("/api/journeys", json=definition(name="Carts"), headers=admin).json()
    assert edited["version"] != body["version"]
    [listed] = client.get("/api/journeys", headers=served.headers("read")).json()["journeys"]
    assert (listed["name"], listed["versions"], listed["version"]) == (
        "Carts",
        2,
        edited["version"],
    )


def test_the_status_gives_counts_per_node_and_the_lift_fields(served):
    client = served.client
    client.post("/api/journeys", json=definition(), headers=served.headers("admin"))
    status = client.get("/api/journeys/cart-abandonment", headers=served.headers("read")).json()
    assert [n["node_id"] for n in status["nodes"]][:2] == ["wait-order", "web-push"]
    assert set(status["nodes"][0]) >= {"entered", "waiting", "exited", "sent", "opens", "clicks"}
    assert set(status["groups"]) == {"treatment", "holdout"}
    assert status["lift"]["method"] == "frequentist"


def test_pausing_and_resuming_a_journey(served):
    client, admin = served.client, served.headers("admin")
    client.post("/api/journeys", json=definition(), headers=admin)
    paused = client.post("/api/journeys/cart-abandonment/pause", headers=admin).json()
    assert paused["status"] == "paused"
    resumed = client.post("/api/journeys/cart-abandonment/resume", headers=admin).json()
    assert resumed["status"] == "live"


def test_bad_definitions_unknown_journeys_and_read_keys_get_the_one_error_shape(served):
    client, admin = served.client, served.headers("admin")
    bad = client.post("/api/journeys", json=definition(start="nowhere"), headers=admin)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "INVALID_INPUT"
    assert "nowhere" in bad.json()["error"]["message"]
    unknown = client.get("/api/journeys/nope", headers=served.headers("read"))
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "UNKNOWN_NAME")
    refused = client.post("/api/journeys", json=definition(), headers=served.headers("read"))
    assert refused.status_code == 403


def test_the_server_runs_the_journey_runner_unless_told_not_to(served):
    assert served.client.app.state.journey_runner.is_alive()
    app = create_app(served.folder)
    app.state.run_journeys = False
    with TestClient(app):
        assert not hasattr(app.state, "journey_runner")
