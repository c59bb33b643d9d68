"""The dashboard over HTTP (TestClient): keys, every page and CSV, filters, errors, escaping,
the customer profile, the segment builder and the page cache."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import IMAGE, SCRIPT, Demo

import journeylens as jl
from journeylens.api.app import create_app
from journeylens.api.keys import KEY_COOKIE
from journeylens.web.pages import PAGES

PATHS = [p.path for p in PAGES.values()]


@pytest.fixture(scope="module")
def client(demo: Demo) -> Iterator[TestClient]:
    """A client of the server over the demo workspace, signed in with the read key."""
    with TestClient(create_app(demo.folder)) as c:
        c.cookies.set(KEY_COOKIE, demo.read)
        yield c


@pytest.fixture
def anonymous(client: TestClient) -> Iterator[TestClient]:
    """The same server with no key in the cookie jar for the test's duration."""
    client.cookies.clear()
    yield client
    client.cookies.clear()


@pytest.fixture(autouse=True)
def _signed_in(request: pytest.FixtureRequest, demo: Demo) -> Iterator[None]:
    yield
    if "client" in request.fixturenames:
        client = request.getfixturevalue("client")
        client.cookies.clear()
        client.cookies.set(KEY_COOKIE, demo.read)


def csv_links(html: str) -> list[str]:
    return [link.replace("&amp;", "&") for link in re.findall(r'href="(/csv/[^"]+)"', html)]


# ------------------------------------------------------------------------------------ keys


@pytest.mark.parametrize("path", [*PATHS, "/csv/funnels/steps", "/persons/nobody"])
def test_every_page_without_a_key_asks_for_one(anonymous, path):
    response = anonymous.get(path)
    assert response.status_code == 401
    assert 'name="key"' in response.text


def test_a_write_key_or_a_revoked_key_opens_nothing(anonymous, demo):
    write = anonymous.get("/funnels", headers={"X-API-Key": demo.write})
    assert write.status_code == 403
    assert "cannot open the dashboard" in write.text
    revoked = anonymous.get("/funnels", headers={"Authorization": f"Bearer {demo.revoked}"})
    assert revoked.status_code == 401
    assert "revoked" in revoked.text


def test_a_key_in_the_address_moves_into_an_httponly_strict_cookie(anonymous, demo):
    response = anonymous.get(f"/funnels?window=7d&key={demo.read}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].endswith("/funnels?window=7d")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{KEY_COOKIE}={demo.read}")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert anonymous.get("/funnels?window=7d").status_code == 200


def test_the_sign_in_form_keeps_a_good_key_and_refuses_a_bad_one(anonymous, demo):
    bad = anonymous.post("/login", data={"key": "jl_read_nope", "next": "/stages"})
    assert bad.status_code == 401
    assert anonymous.get("/stages").status_code == 401
    good = anonymous.post(
        "/login", data={"key": demo.read, "next": "/stages"}, follow_redirects=False
    )
    assert (good.status_code, good.headers["location"]) == (303, "/stages")
    assert anonymous.get("/stages").status_code == 200


def test_signing_in_never_redirects_to_another_site(anonymous, demo):
    for target in ("https://evil.example/", "//evil.example/x"):
        response = anonymous.post(
            "/login", data={"key": demo.read, "next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/"


def test_signing_out_forgets_the_key(client):
    response = client.get("/logout", follow_redirects=False)
    assert response.status_code == 303
    assert f'{KEY_COOKIE}=""' in response.headers["set-cookie"]


# ----------------------------------------------------------------------------- pages, CSV


@pytest.mark.parametrize("path", PATHS)
def test_every_page_shows_its_numbers_with_a_chart_and_csv_downloads(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.text[:2000]
    assert '<script src="/static/plotly.min.js">' in response.text
    if path != "/persons":
        assert 'class="chart-data"' in response.text
    links = csv_links(response.text)
    assert links
    for link in links:
        download = client.get(link)
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(download.text)))
        assert rows[0]


def test_the_overview_compares_key_figures_with_the_period_before(client):
    html = client.get("/").text
    assert html.count('class="kpi"') == 5
    assert "% vs " in html
    activity = csv.DictReader(io.StringIO(client.get("/csv/overview/activity").text))
    assert {row["compare"] for row in activity} == {"current", "previous"}


def test_an_unknown_table_or_static_file_is_not_found(client):
    assert client.get("/csv/funnels/nothing").status_code == 400
    assert client.get("/static/secret.py").status_code == 404
    plotly_js = client.get("/static/plotly.min.js")
    assert plotly_js.status_code == 200
    assert "plotly" in plotly_js.text[:2000].lower()


# -------------------------------------------------------------------------------- filters


def first_step(client: TestClient, query: str) -> int:
    text = client.get(f"/csv/funnels/steps?{query}").text
    return int(next(csv.DictReader(io.StringIO(text)))["count"])


def test_each_filter_narrows_the_funnel(client):
    everyone = first_step(client, "")
    assert everyone > 0
    assert 0 < first_step(client, "channel=Paid+Search") < everyone
    assert 0 < first_step(client, "segment=buyers") < everyone
    days = client.get("/csv/overview/activity").text
    first_day = next(csv.DictReader(io.StringIO(days)))["period"][:10]
    assert first_step(client, f"date_to={first_day}") < everyone


def test_filters_are_carried_into_the_menu_and_csv_links(client):
    html = client.get("/funnels?channel=Email&segment=buyers").text
    assert 'href="/stages?channel=Email&amp;segment=buyers"' in html
    assert all("channel=Email" in link for link in csv_links(html))


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("date_from=yesterday", "date_from is not a date"),
        ("date_from=2024-02-01&date_to=2024-01-01", "date_to is before date_from"),
        ("channel=Carrier+Pigeon", "Unknown channel"),
        ("segment=nobody", "Unknown segment"),
    ],
)
def test_a_bad_filter_says_what_is_wrong(client, query, said):
    response = client.get(f"/funnels?{query}")
    assert response.status_code == 400
    assert said in response.text


def test_a_bad_page_parameter_names_the_field(client):
    response = client.get("/funnels?window=soon")
    assert response.status_code == 400
    assert "INVALID_SPEC" in response.text
    assert "window" in response.text
    assert client.get("/funnels?steps=Home&steps=Search").status_code == 200


# ------------------------------------------------------------------------- funnel, people


def test_the_funnel_lists_who_dropped_and_links_to_their_profiles(client):
    html = client.get("/funnels?dropped_step=2").text
    assert "Who dropped before step 2 (Product Added)" in html
    person = re.search(r'href="/persons/(p_[0-9a-f]+)"', html).group(1)
    profile = client.get(f"/persons/{person}")
    assert profile.status_code == 200
    assert "Product Viewed" in profile.text
    assert client.get("/funnels?dropped_step=9").status_code == 400


def test_the_customer_profile_shows_identifiers_scores_segments_and_a_paged_journal(client, demo):
    buyers = client.get("/csv/segments/members?show=buyers").text.split()[1:]
    busiest = client.get("/csv/persons/customers?sort=most+active").text
    person = next(csv.DictReader(io.StringIO(busiest)))["person_id"]
    html = client.get(f"/persons/{person}").text
    assert "Identifiers" in html
    assert "user_id" in html
    assert "send_time" in html
    assert ('<span class="badge">buyers</span>' in html) == (person in buyers)
    assert html.count('<li class="entry') == 50
    cursor = re.search(r'class="older" href="[^"]*cursor=([^"&]+)', html).group(1)
    older = client.get(f"/persons/{person}?cursor={cursor}").text
    assert "Newest" in older
    assert older.count('<li class="entry') > 0
    assert client.get(f"/persons/{person}?cursor=garbage").status_code == 400
    journal = client.get(f"/persons/{person}/timeline.csv").text
    assert len(list(csv.DictReader(io.StringIO(journal)))) > 50


def test_the_funnel_shows_time_to_convert_and_conversion_over_time_with_their_tables(client):
    html = client.get("/funnels", params={"interval": "week"}).text
    assert 'data-title="Time to convert"' in html
    assert 'data-title="Conversion over time"' in html
    steps = list(csv.DictReader(io.StringIO(client.get("/csv/funnels/steps?interval=week").text)))
    timing = list(
        csv.DictReader(io.StringIO(client.get("/csv/funnels/time_to_convert?interval=week").text))
    )
    assert [row["step"] for row in timing] == ["2", "3", "4"]
    for row, step in zip(timing, steps[1:], strict=True):
        assert row["median_seconds"] == step["median_time_to_convert_seconds"]
        if row["median_seconds"]:
            assert float(row["median_hours"]) == pytest.approx(float(row["median_seconds"]) / 3600)
    weeks = list(
        csv.DictReader(io.StringIO(client.get("/csv/funnels/over_time?interval=week").text))
    )
    days = list(csv.DictReader(io.StringIO(client.get("/csv/funnels/over_time").text)))
    assert 1 < len(weeks) < len(days)
    # Every unit that entered the funnel started its attempt in exactly one period.
    assert sum(int(r["entered"]) for r in weeks) == int(steps[0]["count"])
    assert sum(int(r["entered"]) for r in days) == int(steps[0]["count"])


def test_a_funnel_breakdown_draws_one_bar_series_per_value(client):
    html = client.get("/funnels?breakdown=channel").text
    rows = csv.DictReader(io.StringIO(client.get("/csv/funnels/steps?breakdown=channel").text))
    values = {row["breakdown"] for row in rows}
    assert {"Direct", "Email"} <= values
    figure = json.loads(re.search(r'class="chart-data"[^>]*>(.*?)</script>', html).group(1))
    assert sorted(trace["name"] for trace in figure["data"]) == sorted(values)


def test_an_unknown_customer_is_not_found(client):
    response = client.get("/persons/p_nobody")
    assert response.status_code == 404
    assert "No person with this id" in response.text


def test_customers_are_found_by_any_identifier(client):
    html = client.get("/persons?search=X%40example.com").text
    assert len(re.findall(r'<a href="/persons/p_', html)) == 1


def test_an_admin_saves_a_segment_and_a_read_key_cannot(client, demo):
    form = {"name": "cart viewers", "event": "Cart Viewed", "count": "1", "did": "did"}
    refused = client.post("/segments", data=form)
    assert refused.status_code == 403
    listed = client.get("/segments").text  # seen before the new segment exists
    assert "cart viewers" not in listed
    client.cookies.set(KEY_COOKIE, demo.admin)
    saved = client.post("/segments", data=form, follow_redirects=False)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"]).text
    assert "Members of cart viewers" in page
    assert "<td>cart viewers</td>" in client.get("/segments").text
    bad = client.post("/segments", data=form | {"within": "whenever"})
    assert bad.status_code == 400


def test_an_empty_workspace_shows_every_page_with_a_warning(tmp_path):
    ws = jl.Workspace.open(tmp_path)
    key, _ = ws.create_key("read")
    ws.close()
    with TestClient(create_app(tmp_path)) as empty:
        empty.cookies.set(KEY_COOKIE, key)
        for listed in PAGES.values():
            response = empty.get(listed.path)
            assert response.status_code == 200, listed.title
            if listed.slug not in ("segments", "persons"):
                assert 'class="warning"' in response.text, listed.title


# ------------------------------------------------------------------------------- security


def test_html_in_event_names_properties_and_traits_is_escaped_everywhere(client, demo):
    pages = [
        client.get("/funnels", params={"steps": [SCRIPT, "Order Completed"]}).text,
        client.get("/retention", params={"start_event": SCRIPT}).text,
        client.get(f"/persons/{demo.attacker}").text,
        client.get("/persons", params={"search": "xss-user"}).text,
    ]
    for html in pages:
        assert SCRIPT not in html
        assert IMAGE not in html
        assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "\\u003cscript\\u003ealert(1)" in pages[0]  # escaped as JSON inside the chart
    assert "&lt;img src=x" in pages[2]


def test_the_journal_csv_keeps_the_text_as_sent(client, demo):
    text = client.get(f"/persons/{demo.attacker}/timeline.csv").text
    assert SCRIPT in text  # CSV is data for a spreadsheet, not HTML


# ---------------------------------------------------------------------------------- cache


def test_a_page_is_computed_once_until_new_data_arrives(client):
    cache = client.app.state.web_cache
    client.get("/stages?interval=day")
    misses = cache.misses
    client.get("/stages?interval=day")
    assert cache.misses == misses
    before = client.get("/csv/stages/current?interval=day").text
    with client.app.state.lock:
        ws = client.app.state.workspace
        latest = ws.events().timestamp.max().to_pyarrow().as_py()
        report = ws.ingest(
            [
                {
                    "type": "track",
                    "messageId": "late-1",
                    "userId": "late-user",
                    "event": "Order Completed",
                    "timestamp": latest.isoformat(),
                }
            ]
        )
    assert report.accepted == 1
    after = client.get("/csv/stages/current?interval=day").text
    assert cache.misses > misses
    assert after != before
