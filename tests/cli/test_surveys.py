"""``journeylens surveys create|list|import``: good and bad input."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import journeylens as jl
from journeylens.cli.main import app

runner = CliRunner()

SURVEY = {
    "id": "cli_nps",
    "name": "CLI NPS",
    "questions": [
        {"id": "nps", "type": "nps", "text": "Would you recommend us?"},
        {"id": "plan", "type": "choice", "text": "Plan?", "options": ["free", "pro"]},
    ],
}


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def workspace(tmp_path):
    jl.Workspace.open(tmp_path / "ws").close()
    path = tmp_path / "survey.json"
    path.write_text(json.dumps(SURVEY))
    return tmp_path / "ws", path


def test_a_survey_file_is_saved_and_listed(tmp_path):
    ws, path = workspace(tmp_path)
    made = run("surveys", "create", path, "-w", ws, "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["questions"][1]["options"] == ["free", "pro"]
    listed = json.loads(run("surveys", "list", "-w", ws, "--json").stdout)
    assert [s["id"] for s in listed["surveys"]] == ["cli_nps"]
    assert "cli_nps" in run("surveys", "list", "-w", ws).stdout


def test_an_export_is_imported_and_bad_rows_are_listed_with_exit_code_2(tmp_path):
    ws, path = workspace(tmp_path)
    run("surveys", "create", path, "-w", ws)
    export = tmp_path / "export.csv"
    export.write_text(
        "customer,submitted_at,Q1,plan\n"
        "u1,2026-01-05T10:00:00Z,9,pro\n"
        "u2,2026-01-05T11:00:00Z,3,enterprise\n"
    )
    args = ["surveys", "import", export, "--survey", "cli_nps", "-w", ws]
    args += ["--user-id", "customer", "--email", "", "-q", "nps=Q1"]
    done = run(*args, "--json")
    assert done.exit_code == 2, done.output
    body = json.loads(done.stdout)
    assert (body["accepted_rows"], body["events"]) == (1, 2)
    assert body["rejected"][0]["field"] == "plan"
    assert "enterprise" in run(*args).stdout


def test_a_bad_survey_file_or_unknown_survey_is_an_error_with_exit_code_1(tmp_path):
    ws, path = workspace(tmp_path)
    path.write_text(json.dumps(SURVEY | {"questions": []}))
    bad = run("surveys", "create", path, "-w", ws)
    assert bad.exit_code == 1
    assert "questions" in bad.stderr
    export = tmp_path / "export.csv"
    export.write_text("user_id,submitted_at,nps\n")
    unknown = run("surveys", "import", export, "--survey", "nope", "-w", ws)
    assert unknown.exit_code == 1
    assert "Unknown survey 'nope'" in unknown.stderr
