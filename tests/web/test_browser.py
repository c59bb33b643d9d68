"""The dashboard in headless Chromium (Debian's ``chromium``, driven by Playwright; no browser
download): every page draws its charts with data and logs no error; the funnel builder and a
customer profile work by clicking. Screenshots go to ``tests/artifacts/web/``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from tests.web.conftest import Demo

from journeylens.api.app import create_app
from journeylens.web.pages import PAGES

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]
sync_api = pytest.importorskip("playwright.sync_api")

#: The number of traces of every drawn chart of the page.
TRACES = "() => [...document.querySelectorAll('.js-plotly-plot')].map(d => (d.data || []).length)"


@pytest.fixture(scope="module")
def server(demo: Demo) -> Iterator[str]:
    """The app over the demo workspace, served by uvicorn in a thread on a free port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(demo.folder), host="127.0.0.1", port=port, log_level="error")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server: str, demo: Demo) -> Iterator[object]:
    """A signed-in tab that records console errors and uncaught exceptions."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.errors = []
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.goto(f"{server}/?key={demo.read}")
    yield tab
    context.close()


def shoot(tab, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_key_in_the_address_is_dropped_after_sign_in(page, server):
    assert page.url == f"{server}/"
    assert "key=" not in page.url


def test_every_page_draws_its_charts_with_data_and_no_console_error(page, server):
    for listed in PAGES.values():
        page.goto(server + listed.path)
        assert page.title().startswith(listed.title)
        traces = page.evaluate(TRACES)
        expected = page.locator("script.chart-data").count()
        assert len(traces) == expected, listed.title
        assert all(n > 0 for n in traces), listed.title
        assert page.locator(".plot.broken").count() == 0
        shoot(page, listed.slug or "overview")
    assert page.errors == []


def test_the_funnel_builder_and_a_customer_profile_work_by_clicking(page, server):
    page.goto(f"{server}/funnels")
    page.locator("input.step").nth(1).fill("Cart Viewed")
    page.locator("#params button[type=submit]").click()
    page.wait_for_load_state()
    assert "steps=Cart+Viewed" in page.url
    labels = page.evaluate("() => document.querySelector('.js-plotly-plot').data[0].x")
    assert labels[1] == "Cart Viewed"
    shoot(page, "funnel-builder")

    page.locator("#table-dropped a[href^='/persons/']").first.click()
    page.wait_for_load_state()
    assert "/persons/p_" in page.url
    assert page.locator("section.profile h3", has_text="Identifiers").count() == 1
    assert page.locator(".timeline li.entry").count() > 0
    shoot(page, "customer-profile")
    assert page.errors == []
