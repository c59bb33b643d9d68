"""The integrated report: every section with its chart and table, offline (nothing loaded from
the network), escaped, and served at /report behind a read key."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import IMAGE, SCRIPT, Demo

import journeylens as jl
from journeylens.api.app import create_app
from journeylens.api.keys import KEY_COOKIE
from journeylens.errors import UnknownNameError
from journeylens.web.report import REPORT_PAGES, build_report
from journeylens.web.scope import Filters


@pytest.fixture(scope="module")
def client(demo: Demo) -> Iterator[TestClient]:
    with TestClient(create_app(demo.folder)) as c:
        c.cookies.set(KEY_COOKIE, demo.read)
        yield c


@pytest.fixture(scope="module")
def report(client: TestClient) -> str:
    """The demo's report as the dashboard serves it."""
    response = client.get("/report")
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def sections(html: str) -> dict[str, str]:
    """Each section's HTML by its page slug ("overview" for the overview)."""
    parts = re.split(r'<section class="report-section" id="section-([a-z_-]+)">', html)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_report_has_every_main_analysis_with_its_chart_and_table(report):
    found = sections(report)
    assert list(found) == [slug or "overview" for slug in REPORT_PAGES]
    for slug, html in found.items():
        assert "could not be computed" not in html, slug
        assert 'class="chart-data"' in html, slug
        assert "<table>" in html, slug
        assert "<td>" in html, slug
    assert found["overview"].count('class="kpi"') == 5
    assert "Time to convert" in found["funnels"]
    assert "Conversion over time" in found["funnels"]


def test_the_report_loads_nothing_from_the_network_and_inlines_plotly_once(report):
    sources = re.findall(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="([^"]*)"', report)
    assert all(not s.startswith(("http://", "https://", "//", "/")) for s in sources), sources
    assert "<script src=" not in report
    assert report.count("plotly.js v") == 1  # the library's own banner
    assert 'href="/' not in report  # no dashboard links that would be dead offline


def test_the_report_header_names_the_workspace_period_version_and_time(report, demo):
    header = report.split("</header>")[0]
    assert str(demo.folder) in header
    assert re.search(r"Period</dt><dd>\d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d", header)
    assert re.search(r"Data version</dt><dd>\d+:", header)
    assert re.search(r"Generated</dt><dd>\d{4}-\d\d-\d\dT", header)


def test_html_sent_as_event_names_or_traits_is_escaped_in_the_report(report):
    assert SCRIPT not in report
    assert IMAGE not in report


def test_the_dashboard_menu_links_to_the_report_with_its_filters(client):
    html = client.get("/stages", params={"channel": "Email"}).text
    assert 'href="/report?channel=Email"' in html


def test_the_report_needs_a_read_key(client, demo):
    client.cookies.clear()
    try:
        assert client.get("/report").status_code == 401
        assert client.get("/report", headers={"X-API-Key": demo.write}).status_code == 403
    finally:
        client.cookies.set(KEY_COOKIE, demo.read)


def test_a_report_for_an_unknown_segment_says_which_exist(demo):
    with jl.Workspace.open(demo.folder) as ws, pytest.raises(UnknownNameError, match="buyers"):
        build_report(ws, filters=Filters(segment="nobody"))
