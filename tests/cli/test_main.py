"""The command line: demo, import, resolve, info; JSON output and exit codes."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from journeylens.cli.main import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "ws"
    result = run("demo", "-w", path, "--customers", 150, "--days", 14, "--json", "--no-serve")
    assert result.exit_code == 0, result.output
    return path, json.loads(result.stdout)


def test_demo_simulates_ingests_resolves_and_summarises(demo_ws):
    _, summary = demo_ws
    assert summary["events"] > 1000
    assert 0 < summary["persons"] < summary["events"]
    assert sum(summary["channels"].values()) == summary["events"]
    assert "Direct" in summary["channels"]
    assert set(summary["stages"]) >= {"awareness", "consideration", "purchase"}
    assert summary["ingest"]["accepted"] == summary["events"]


def test_info_reads_the_same_workspace_back(demo_ws):
    path, summary = demo_ws
    result = run("info", "-w", path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == summary["events"]


def test_the_rich_summary_names_channels_and_stages(demo_ws):
    path, _ = demo_ws
    result = run("info", "-w", path)
    assert result.exit_code == 0
    assert "events by channel" in result.stdout
    assert "events by stage" in result.stdout
    assert f"journeylens info -w {path}" in " ".join(result.stdout.split())


def test_import_maps_columns_and_reports_rejections(tmp_path):
    csv = tmp_path / "crm.csv"
    pd.DataFrame(
        {
            "cust": ["c1", "c2", ""],
            "when": ["2026-01-01", "yesterday", "2026-01-02"],
            "event": ["Signed Up", "Signed Up", "Signed Up"],
        }
    ).to_csv(csv, index=False)
    ws = tmp_path / "ws"
    result = run(
        "import", csv, "-w", ws, "--map", "user_id=cust", "--map", "timestamp=when", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["accepted"], report["rejected_count"]) == (1, 2)
    assert report["rejected_by_code"] == {"BAD_TIMESTAMP": 1, "MISSING_ID": 1}
    resolved = run("resolve", "-w", ws, "--json")
    assert resolved.exit_code == 0, resolved.output
    assert json.loads(resolved.stdout)["persons"] == 1


def test_a_malformed_map_option_exits_1_with_the_fix(tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("user_id,timestamp,event\nu,2026-01-01,a\n")
    result = run("import", csv, "-w", tmp_path / "ws", "--map", "user_id")
    assert result.exit_code == 1
    assert "--map user_id=customer_id" in result.stderr


def test_a_missing_file_exits_1_and_says_so(tmp_path):
    result = run("import", tmp_path / "nope.csv", "-w", tmp_path / "ws")
    assert result.exit_code == 1
    assert "No such file" in result.stderr


def test_info_on_a_missing_workspace_tells_how_to_make_one(tmp_path):
    result = run("info", "-w", tmp_path / "none")
    assert result.exit_code == 1
    assert "journeylens demo" in result.stderr


def test_bad_option_values_are_usage_errors():
    assert run("demo", "--customers", 0).exit_code == 2
