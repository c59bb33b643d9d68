"""Assignment over the API: a write key assigns and records the exposure; a read key may not."""

from __future__ import annotations

import journeylens.analysis.experiment  # noqa: F401  (registers the analysis)

BODY = {
    "variants": [{"name": "control"}, {"name": "big", "weight": 1}],
    "anonymous_id": "device-42",
    "timestamp": "2024-05-01T12:00:00Z",
}


def test_a_write_key_gets_a_sticky_variant_and_the_exposure_is_recorded_once(served):
    write = served.headers("write")
    first = served.client.post("/api/experiments/hero/assign", json=BODY, headers=write)
    assert first.status_code == 200
    again = served.client.post("/api/experiments/hero/assign", json=BODY, headers=write).json()
    assert first.json()["variant"] == again["variant"] in {"control", "big"}
    assert first.json()["recorded"] is True
    assert again["recorded"] is False  # the same exposure (same unit and time) is stored once
    body = {"experiment_id": "hero", "metrics": [{"kind": "count"}], "method": "frequentist"}
    result = served.client.post(
        "/api/analyses/experiment", json=body, headers=served.headers("read")
    ).json()
    assert result["variants"] == [first.json()["variant"]]


def test_a_read_key_may_not_assign_because_assigning_writes(served):
    response = served.client.post(
        "/api/experiments/hero/assign", json=BODY, headers=served.headers("read")
    )
    assert response.status_code == 403


def test_a_multivariate_design_returns_the_factor_levels_without_recording(served):
    body = {
        "factors": [{"name": n, "levels": [f"{n}0", f"{n}1"]} for n in "ABC"],
        "design": "fractional",
        "generators": ["C=AB"],
        "user_id": "u1",
        "unit": "person",
        "record": False,
    }
    response = served.client.post(
        "/api/experiments/mv/assign", json=body, headers=served.headers("admin")
    ).json()
    assert set(response["factors"]) == {"A", "B", "C"}
    assert response["recorded"] is False


def test_a_bad_design_gets_the_one_json_error_shape(served):
    body = {"variants": [{"name": "only"}], "anonymous_id": "d"}
    response = served.client.post(
        "/api/experiments/x/assign", json=body, headers=served.headers("write")
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_SPEC"
    missing = served.client.post(
        "/api/experiments/x/assign",
        json={**BODY, "anonymous_id": None},
        headers=served.headers("write"),
    )
    assert missing.status_code == 400
