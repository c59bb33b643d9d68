"""API keys in the workspace: made, listed, checked, revoked; stored hashed; schema version 4."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

import journeylens as jl
from journeylens.errors import UnknownNameError
from journeylens.schema import SCHEMA_VERSION


def ticking_clock():
    moments = iter(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=i) for i in range(100))
    return lambda: next(moments)


def test_a_made_key_checks_until_it_is_revoked():
    ws = jl.Workspace.open(clock=ticking_clock())
    text, key = ws.create_key("read", "dashboard")
    assert key.role == "read"
    assert key.name == "dashboard"
    assert key.active
    assert ws.check_key(text) == key
    revoked = ws.revoke_key(key.key_id)
    assert not revoked.active
    assert revoked.revoked_at > key.created_at
    assert ws.check_key(text) is None


def test_revoking_twice_keeps_the_first_revocation_time():
    ws = jl.Workspace.open(clock=ticking_clock())
    _, key = ws.create_key("write")
    first = ws.revoke_key(key.key_id).revoked_at
    assert ws.revoke_key(key.key_id).revoked_at == first


def test_keys_are_listed_oldest_first_with_revoked_ones():
    ws = jl.Workspace.open(clock=ticking_clock())
    made = [ws.create_key(role)[1] for role in ("write", "read", "admin")]
    ws.revoke_key(made[1].key_id)
    listed = ws.list_keys()
    assert [k.key_id for k in listed] == [k.key_id for k in made]
    assert [k.active for k in listed] == [True, False, True]


def test_an_unknown_role_and_an_unknown_key_id_are_refused_with_what_exists():
    ws = jl.Workspace.open()
    with pytest.raises(UnknownNameError, match="admin, read, write"):
        ws.create_key("owner")
    with pytest.raises(UnknownNameError, match="API key id"):
        ws.revoke_key("000000000000")


def test_a_key_of_one_workspace_does_not_open_another():
    text, _ = jl.Workspace.open().create_key("admin")
    assert jl.Workspace.open().check_key(text) is None


def test_a_version_3_workspace_gains_the_keys_and_suppression_tables_on_open(tmp_path):
    with jl.Workspace.open(tmp_path):
        pass
    con = duckdb.connect(str(tmp_path / "journeylens.duckdb"))
    con.execute("DROP TABLE api_keys")
    con.execute("DROP TABLE suppressed_identifiers")
    con.execute("UPDATE jl_meta SET value = '3' WHERE key = 'schema_version'")
    con.close()
    with jl.Workspace.open(tmp_path) as ws:
        assert ws.info()["schema_version"] == SCHEMA_VERSION
        text, _ = ws.create_key("read")
        assert ws.check_key(text) is not None
