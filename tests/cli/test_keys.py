"""``journeylens keys create|list|revoke`` and ``serve``'s wiring."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import journeylens as jl
from journeylens.cli.main import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_a_key_made_on_the_command_line_opens_the_workspace_until_revoked(tmp_path):
    made = run("keys", "create", "--role", "read", "--name", "ci", "-w", tmp_path, "--json")
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    assert key["key"].startswith("jl_read_")
    with jl.Workspace.open(tmp_path) as ws:
        assert ws.check_key(key["key"]).name == "ci"
    listed = json.loads(run("keys", "list", "-w", tmp_path, "--json").stdout)["keys"]
    assert [k["key_id"] for k in listed] == [key["key_id"]]
    assert "key" not in listed[0]
    revoked = run("keys", "revoke", key["key_id"], "-w", tmp_path, "--json")
    assert json.loads(revoked.stdout)["active"] is False
    with jl.Workspace.open(tmp_path) as ws:
        assert ws.check_key(key["key"]) is None


def test_an_unknown_role_or_key_id_is_an_error_with_exit_code_1(tmp_path):
    bad_role = run("keys", "create", "--role", "root", "-w", tmp_path)
    assert bad_role.exit_code == 1
    assert "admin, read, write" in bad_role.stderr
    assert run("keys", "revoke", "000000000000", "-w", tmp_path).exit_code == 1


def test_listing_keys_of_a_missing_workspace_says_how_to_make_one(tmp_path):
    result = run("keys", "list", "-w", tmp_path / "none")
    assert result.exit_code == 1
    assert "No workspace" in result.stderr
