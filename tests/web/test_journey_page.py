"""The Journeys page: a published journey as a graph with counts per node, tables as CSV, and
the lift note; with nothing published, a warning that says how to publish."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from tests.web.conftest import Demo

from journeylens.activate.publish import publish_journey
from journeylens.activate.templates import load_template
from journeylens.api.app import create_app
from journeylens.api.keys import KEY_COOKIE


def test_the_page_warns_until_a_journey_is_published_then_draws_it(demo: Demo):
    app = create_app(demo.folder)
    app.state.run_journeys = False
    with TestClient(app) as client:
        client.cookies.set(KEY_COOKIE, demo.read)
        empty = client.get("/journeys")
        assert empty.status_code == 200
        assert "NO_JOURNEYS" in empty.text
        with app.state.lock:
            publish_journey(app.state.workspace, load_template("cart_abandonment"))
        html = client.get("/journeys?journey=cart-abandonment").text
        assert "live counts per node" in html
        assert "Cart abandonment" in html
        rows = list(csv.DictReader(io.StringIO(
            client.get("/csv/journeys/nodes?journey=cart-abandonment").text
        )))  # fmt: skip
        assert [r["node_id"] for r in rows][:3] == ["wait-order", "web-push", "wait-day"]
        assert "NO_INSTANCES" in html


def test_an_unknown_journey_is_refused(demo: Demo):
    app = create_app(demo.folder)
    app.state.run_journeys = False
    with TestClient(app) as client:
        client.cookies.set(KEY_COOKIE, demo.read)
        with app.state.lock:
            publish_journey(app.state.workspace, load_template("welcome_series"))
        assert client.get("/journeys?journey=nope").status_code == 400
