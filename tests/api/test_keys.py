"""API keys: every API route refuses a request without a key, with a write key and with a revoked
key; roles grant what they say; keys are made, listed and revoked over the API."""

from __future__ import annotations

import pytest

from journeylens.keyring import hash_secret, new_key, parse_key, verify_key

#: A value for each path parameter of the API's routes.
PATH_VALUES = {
    "name": "funnel",
    "person_id": "p_0",
    "key_id": "000000000000",
    "experiment_id": "checkout_redesign",
    "journey_id": "cart_abandonment",
    "survey_id": "nps_2026",
}
#: Routes a write key may call: they record events, as the collector does.
WRITE_ROUTES = {("POST", "/api/experiments/checkout_redesign/assign")}


def api_routes(app) -> list[tuple[str, str]]:
    """(method, concrete path) of every route under /api, from the app's OpenAPI document."""
    found = []
    for template, operations in app.openapi()["paths"].items():
        if template.startswith("/api"):
            path = template.format(**PATH_VALUES)
            found += [(method.upper(), path) for method in sorted(operations)]
    return found


def test_the_api_has_routes_to_check(served):
    routes = api_routes(served.client.app)
    assert len(routes) >= 15
    assert ("DELETE", "/api/persons/p_0") in routes


def test_every_api_route_refuses_a_request_without_a_key(served):
    for method, path in api_routes(served.client.app):
        response = served.client.request(method, path, json={})
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_write_key_cannot_read_or_change_anything(served):
    for method, path in api_routes(served.client.app):
        if (method, path) in WRITE_ROUTES:
            continue
        response = served.client.request(method, path, json={}, headers=served.headers("write"))
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "FORBIDDEN"


def test_a_revoked_key_opens_nothing(served):
    for method, path in api_routes(served.client.app):
        response = served.client.request(method, path, json={}, headers=served.headers("revoked"))
        assert response.status_code == 401, (method, path)


def test_a_made_up_key_and_a_malformed_one_are_refused(served):
    text, _ = new_key("admin", "never stored", served_now())
    for key in (text, "jl_admin_zz", "letmein", ""):
        response = served.client.get("/api/ingest", headers={"X-API-Key": key})
        assert response.status_code == 401


def test_a_read_key_reads_but_cannot_change_or_manage_keys(served):
    read = served.headers("read")
    assert served.client.get("/api/ingest", headers=read).status_code == 200
    assert served.client.get(f"/api/persons/{served.person_id}", headers=read).status_code == 200
    assert served.client.delete(f"/api/persons/{served.person_id}", headers=read).status_code == 403
    assert served.client.get("/api/keys", headers=read).status_code == 403
    body = {"name": "x", "spec": {"rule": {"kind": "event", "event": "View"}}}
    assert served.client.post("/api/segments", json=body, headers=read).status_code == 403


@pytest.mark.parametrize("header", ["bearer", "x-api-key", "cookie"])
def test_a_key_is_read_from_a_bearer_header_an_x_api_key_header_or_the_dashboard_cookie(
    served, header
):
    key = served.keys["read"]
    if header == "bearer":
        response = served.client.get("/api/ingest", headers={"Authorization": f"Bearer {key}"})
    elif header == "x-api-key":
        response = served.client.get("/api/ingest", headers={"X-API-Key": key})
    else:
        served.client.cookies.set("journeylens_key", key)
        try:
            response = served.client.get("/api/ingest")
        finally:
            served.client.cookies.clear()
    assert response.status_code == 200


def test_an_admin_makes_lists_and_revokes_keys_and_a_revoked_key_stops_working_at_once(served):
    admin = served.headers("admin")
    made = served.client.post("/api/keys", json={"role": "read", "name": "ci"}, headers=admin)
    assert made.status_code == 201
    text, key_id = made.json()["key"], made.json()["key_id"]
    assert served.client.get("/api/ingest", headers={"X-API-Key": text}).status_code == 200
    listed = served.client.get("/api/keys", headers=admin).json()["keys"]
    assert any(k["key_id"] == key_id and k["active"] for k in listed)
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    revoked = served.client.delete(f"/api/keys/{key_id}", headers=admin).json()
    assert revoked["active"] is False
    assert revoked["revoked_at"]
    assert served.client.get("/api/ingest", headers={"X-API-Key": text}).status_code == 401


def test_a_key_of_an_unknown_role_is_refused_with_the_roles_allowed(served):
    response = served.client.post(
        "/api/keys", json={"role": "root"}, headers=served.headers("admin")
    )
    assert response.status_code == 422
    assert response.json()["error"]["detail"]["errors"][0]["field"] == "body.role"


def test_the_workspace_stores_a_salted_hash_never_the_key(served):
    rows = served.client.app.state.workspace.key_rows()
    stored = " ".join(str(v) for row in rows for v in row.values())
    for text in served.keys.values():
        key_id, secret = parse_key(text)
        assert secret not in stored
        row = next(r for r in rows if r["key_id"] == key_id)
        assert row["secret_hash"] == hash_secret(secret, row["salt"])


def test_a_key_verifies_only_with_its_own_secret_and_id():
    text, row = new_key("write", "site", served_now())
    assert verify_key(text, row)
    assert not verify_key(text[:-1] + ("A" if text[-1] != "A" else "B"), row)
    other, _ = new_key("write", "site", served_now())
    assert not verify_key(other, row)


def served_now():
    from datetime import UTC, datetime

    return datetime(2024, 1, 1, tzinfo=UTC)


def test_the_key_cache_sees_a_key_revoked_elsewhere_within_its_refresh_age(monkeypatch):
    from journeylens.api import keys as keys_module

    text, row = new_key("read", "x", served_now())
    rows = [dict(row)]
    loads = []
    cache = keys_module.KeyCache(lambda: loads.append(1) or [dict(r) for r in rows])
    now = [1000.0]
    monkeypatch.setattr(keys_module.time, "monotonic", lambda: now[0])
    assert cache.check(text) is not None  # first use loads the rows
    rows[0]["revoked_at"] = served_now()  # revoked by another writer
    assert cache.check(text) is not None  # the copy is fresh: no query per request
    now[0] += 6  # past the refresh age
    assert cache.check(text) is None
    assert len(loads) == 2
