"""The Experiments page: experiments found in the data, metric and method choices, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import Demo

from journeylens.api.app import create_app
from journeylens.api.keys import KEY_COOKIE


@pytest.fixture(scope="module")
def client(demo: Demo) -> Iterator[TestClient]:
    with TestClient(create_app(demo.folder)) as c:
        c.cookies.set(KEY_COOKIE, demo.read)
        yield c


def test_the_page_offers_the_experiments_seen_and_compares_their_variants(client):
    html = client.get("/experiments?experiment=checkout_redesign&method=frequentist").text
    assert "checkout_redesign" in html
    assert "free_shipping_banner" in html  # offered in the experiment choice
    assert "Sample ratio check" in html
    rows = list(csv.DictReader(io.StringIO(client.get(
        "/csv/experiments/variants?experiment=checkout_redesign&method=frequentist"
    ).text)))  # fmt: skip
    assert [r["variant"] for r in rows] == ["control", "one_page_checkout"]
    assert rows[1]["p_value"]


def test_a_ratio_metric_with_cuped_off_and_the_sequential_method_renders(client):
    query = "experiment=free_shipping_banner&metric=revenue+per+order&method=sequential"
    response = client.get(f"/experiments?{query}")
    assert response.status_code == 200
    timeline = client.get(f"/csv/experiments/cumulative?{query}").text
    assert "banner_a" in timeline


def test_cuped_can_be_turned_on_and_a_bad_window_is_refused(client):
    response = client.get("/experiments?experiment=checkout_redesign&metric=revenue&cuped=7d")
    assert response.status_code == 200
    bad = client.get("/experiments?experiment=checkout_redesign&cuped=soon")
    assert bad.status_code == 400
