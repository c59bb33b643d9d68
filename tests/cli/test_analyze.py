"""``journeylens analyze``: every registered analysis from a spec file, as a table or JSON."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from journeylens.analysis import analyses
from journeylens.cli.main import app

runner = CliRunner()

FUNNEL = {"steps": ["Product Viewed", "Product Added", "Order Completed"], "window": "7d"}


def run(*args, stdin=None):
    return runner.invoke(app, [str(a) for a in args], input=stdin)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    path = tmp_path_factory.mktemp("analyze") / "ws"
    result = run("demo", "-w", path, "--customers", 120, "--days", 14, "--json", "--no-serve")
    assert result.exit_code == 0, result.output
    return path


def test_without_a_name_it_lists_every_registered_analysis():
    result = run("analyze", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["analyses"]
    assert list(listed) == [a.name for a in analyses()]
    assert "funnel" in listed


def test_example_prints_a_spec_that_runs(ws, tmp_path):
    example = run("analyze", "funnel", "--example")
    assert example.exit_code == 0
    spec = tmp_path / "spec.json"
    spec.write_text(example.stdout)
    result = run("analyze", "funnel", "--spec", spec, "-w", ws, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["analysis"] == "funnel"


def test_a_spec_file_gives_the_analysis_json(ws, tmp_path):
    spec = tmp_path / "funnel.json"
    spec.write_text(json.dumps(FUNNEL))
    result = run("analyze", "funnel", "--spec", spec, "-w", ws, "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["steps"]
    assert [s["name"] for s in steps] == FUNNEL["steps"]
    assert steps[0]["count"] >= steps[1]["count"] >= steps[2]["count"] > 0


def test_a_spec_from_stdin_renders_a_table_and_writes_the_figure(ws, tmp_path):
    html = tmp_path / "funnel.html"
    result = run(
        "analyze", "funnel", "--spec", "-", "-w", ws, "--figure", html, stdin=json.dumps(FUNNEL)
    )
    assert result.exit_code == 0, result.output
    assert "Product" in result.stdout  # rich wraps long names in a narrow terminal
    assert html.read_text().startswith("<html>")


def test_inline_json_text_is_a_spec_too(ws):
    result = run("analyze", "funnel", "--spec", json.dumps(FUNNEL), "-w", ws, "--json")
    assert result.exit_code == 0, result.output


def test_a_bad_spec_exits_1_naming_the_field(ws):
    bad = json.dumps({"steps": ["a", "b"], "window": "soon", "colour": 1})
    result = run("analyze", "funnel", "--spec", bad, "-w", ws)
    assert result.exit_code == 1
    assert "INVALID_SPEC" in result.stderr
    assert "window" in result.stderr
    assert "colour" in result.stderr


def test_an_unknown_analysis_suggests_the_closest_name(ws):
    result = run("analyze", "funel", "--spec", json.dumps(FUNNEL), "-w", ws)
    assert result.exit_code == 1
    assert "Did you mean 'funnel'" in " ".join(result.stderr.split())


def test_a_missing_spec_or_spec_file_or_workspace_says_what_to_do(tmp_path, ws):
    no_spec = run("analyze", "funnel", "-w", ws)
    assert no_spec.exit_code == 1
    assert "--example" in no_spec.stderr
    no_file = run("analyze", "funnel", "--spec", tmp_path / "none.json", "-w", ws)
    assert no_file.exit_code == 1
    assert "No spec file" in no_file.stderr
    no_ws = run("analyze", "funnel", "--spec", json.dumps(FUNNEL), "-w", tmp_path / "none")
    assert no_ws.exit_code == 1
    assert "journeylens demo" in no_ws.stderr
