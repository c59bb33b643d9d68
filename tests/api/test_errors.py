"""One JSON error shape for every failure: ``{"error": {"code", "message", "detail"}}``."""

from __future__ import annotations

import gzip

from fastapi.testclient import TestClient


def error_of(response) -> dict:
    """The error of a response, after checking it has the one shape."""
    body = response.json()
    assert "error" in body, body
    error = body["error"]
    assert set(error) == {"code", "message", "detail"}, error
    assert isinstance(error["code"], str)
    assert error["code"].isupper()
    assert isinstance(error["message"], str)
    assert error["message"]
    assert {"problem", "received", "allowed", "fix"} <= set(error["detail"])
    return error


def test_every_kind_of_failure_answers_in_the_one_error_shape(served):
    client, admin = served.client, served.headers("admin")

    def boom() -> None:
        raise RuntimeError("internal detail that must not leak")

    client.app.add_api_route("/api/test-boom", boom)
    quiet = TestClient(client.app, raise_server_exceptions=False)
    cases = [
        # (response, status, code): journeylens errors
        (
            client.post("/api/analyses/funnel", json={"steps": "x"}, headers=admin),
            400,
            "INVALID_SPEC",
        ),
        (client.post("/api/analyses/funel", json={}, headers=admin), 400, "UNKNOWN_NAME"),
        (client.get("/api/persons/p_nobody", headers=admin), 404, "NOT_FOUND"),
        (
            client.get("/api/persons/p_nobody/timeline?cursor=bad", headers=admin),
            404,
            "NOT_FOUND",
        ),
        (client.delete("/api/segments/none-such", headers=admin), 400, "UNKNOWN_NAME"),
        # keys
        (client.get("/api/ingest"), 401, "UNAUTHORIZED"),
        (client.get("/api/ingest", headers=served.headers("write")), 403, "FORBIDDEN"),
        # request validation
        (client.get("/api/ingest/rejected?limit=0", headers=admin), 422, "INVALID_REQUEST"),
        (client.post("/api/segments", json={"name": ""}, headers=admin), 422, "INVALID_REQUEST"),
        (
            client.post("/api/analyses/funnel", content=b"{not json", headers=admin),
            422,
            "INVALID_REQUEST",
        ),
        # HTTP errors of the framework
        (client.get("/api/no-such-route", headers=admin), 404, "NOT_FOUND"),
        (client.put("/api/ingest", headers=admin), 405, "METHOD_NOT_ALLOWED"),
        # the collector's failures
        (client.post("/v1/batch", json={"batch": []}), 401, "UNAUTHORIZED"),
        (
            client.post(
                "/v1/batch",
                content=gzip.compress(b"x" * 600_000),
                headers={"Content-Encoding": "gzip", "X-Write-Key": served.keys["write"]},
            ),
            413,
            None,
        ),
        # an unexpected exception
        (quiet.get("/api/test-boom"), 500, "INTERNAL_ERROR"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (response.request.url, response.text)
        error = error_of(response)
        if code is not None:
            assert error["code"] == code, (response.request.url, error)
    leaked = quiet.get("/api/test-boom").text
    assert "internal detail" not in leaked
    assert "Traceback" not in leaked


def test_a_spec_error_names_each_invalid_field(served):
    response = served.client.post(
        "/api/analyses/funnel", json={"steps": [], "window": 3}, headers=served.headers("read")
    )
    fields = {e["field"] for e in error_of(response)["detail"]["errors"]}
    assert "window" in fields or "steps" in fields


def test_the_docs_and_the_openapi_document_are_served(served):
    assert served.client.get("/docs").status_code == 200
    spec = served.client.get("/openapi.json").json()
    assert "/api/analyses/{name}" in spec["paths"]
    assert "ErrorBody" in spec["components"]["schemas"]
