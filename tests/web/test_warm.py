"""The page warmer: after ``serve`` starts (and after new data), the menu's pages come from the
cache; ``--no-warm`` turns it off."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import journeylens as jl
from journeylens.api.app import create_app
from journeylens.api.keys import KEY_COOKIE
from journeylens.cli.main import app as cli
from journeylens.web.pages import PAGES

CACHED = [p.path for p in PAGES.values() if p.cached]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[Path, str, str]:
    path = tmp_path_factory.mktemp("warm")
    with jl.Workspace.open(path) as ws:
        ws.ingest(jl.simulate(customers=40, days=7, seed=2).events)
        read, _ = ws.create_key("read", "warm")
        write, _ = ws.create_key("write", "warm")
    return path, read, write


def test_after_warm_up_every_page_of_the_menu_is_served_from_the_cache(folder):
    path, read, write = folder
    app = create_app(path, warm=True)
    app.state.warm_every = 0.0
    with TestClient(app) as client:
        client.cookies.set(KEY_COOKIE, read)
        warmer, cache = app.state.warmer, app.state.web_cache
        assert warmer.wait(timeout=180)
        assert warmer.status().failures == 0
        misses = cache.misses
        for path_ in CACHED:
            assert client.get(path_).status_code == 200
        assert cache.misses == misses

        # New events drained from the collector move the data version: warmed again.
        sent = {"type": "track", "event": "Late", "userId": "u-late", "messageId": "late-1"}
        assert client.post("/v1/track", json=sent, headers={"X-Write-Key": write}).is_success
        app.state.collector.drain.flush()
        assert warmer.wait(timeout=180)
        assert warmer.status().passes >= 2
        misses = cache.misses
        assert client.get(CACHED[0]).status_code == 200
        assert cache.misses == misses


def test_a_server_made_without_warm_computes_nothing_in_advance(folder):
    path, _, _ = folder
    app = create_app(path)
    with TestClient(app):
        assert app.state.warmer is None
        assert app.state.web_cache.misses == 0


@pytest.mark.parametrize(("flag", "warm"), [([], True), (["--no-warm"], False)])
def test_serve_warms_the_pages_unless_told_not_to(folder, monkeypatch, flag, warm):
    path, _, _ = folder
    seen = {}
    monkeypatch.setattr(
        "journeylens.api.launch.serve", lambda *args, **options: seen.update(options)
    )
    result = CliRunner().invoke(cli, ["serve", "-w", str(path), *flag])
    assert result.exit_code == 0, result.output
    assert seen["warm"] is warm
