"""``journeylens report``: the HTML file on a small simulated workspace, the PDF when chromium
is installed, and clear errors for bad arguments."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import journeylens as jl
from journeylens.cli.main import app
from journeylens.web.report import REPORT_PAGES

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "ws"
    with jl.Workspace.open(path) as ws:
        ws.ingest(jl.simulate(customers=60, days=10, seed=3).events)
    return path


CHROMIUM = shutil.which("chromium") is not None


@pytest.fixture(scope="module")
def written(folder, tmp_path_factory) -> Path:
    """The report of the whole range on one channel, and its PDF when chromium is installed."""
    out = tmp_path_factory.mktemp("out") / "report.html"
    pdf = ["--pdf"] if CHROMIUM else []
    result = run(
        "report", "-w", folder, "--out", out, "--channel", "Email", "--from", "2020-01-01", *pdf
    )
    assert result.exit_code == 0, result.output
    return out


def test_the_report_is_one_html_file_with_every_section(written):
    html = written.read_text()
    for slug in REPORT_PAGES:
        if slug != "predictions":  # this workspace has no stored predictions
            assert f'id="section-{slug or "overview"}"' in html
    assert 'id="section-predictions"' not in html
    assert "Channel</dt><dd>Email" in html
    assert "Period</dt><dd>2020-01-01 to " in html
    assert "https://" not in "".join(html.split("<script>")[0])  # nothing loaded from outside


def test_a_missing_workspace_is_a_clear_error(tmp_path):
    result = run("report", "-w", tmp_path / "nowhere", "--out", tmp_path / "r.html")
    assert result.exit_code == 1
    assert "No workspace" in result.output
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_an_unusable_output_path_is_refused_before_computing(folder, tmp_path, where):
    out = tmp_path / "missing" / "r.html" if where == "missing folder" else tmp_path
    result = run("report", "-w", folder, "--out", out)
    assert result.exit_code == 1
    assert "output path" in result.output


def test_an_unknown_channel_is_refused(folder, tmp_path):
    result = run("report", "-w", folder, "--out", tmp_path / "r.html", "--channel", "Pigeon")
    assert result.exit_code == 1
    assert "channel" in result.output


def test_pdf_without_chromium_says_how_to_get_it(folder, tmp_path, monkeypatch):
    monkeypatch.setattr("journeylens.web.report.shutil.which", lambda name: None)
    result = run("report", "-w", folder, "--out", tmp_path / "r.html", "--pdf")
    assert result.exit_code == 1
    assert "No PDF engine" in result.output
    assert "apt-get install chromium" in result.output
    assert not (tmp_path / "r.html").exists()


@pytest.mark.skipif(not CHROMIUM, reason="needs Debian's chromium")
def test_pdf_is_printed_next_to_the_html_when_chromium_is_installed(written):
    assert written.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
