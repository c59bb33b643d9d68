"""``/api/analyses``: the registry behind one route, results cached by spec and data version."""

from __future__ import annotations

from journeylens.analysis import analyses


def test_the_listing_names_every_registered_analysis_with_an_example_and_its_schema(served):
    listed = served.client.get("/api/analyses", headers=served.headers("read")).json()["analyses"]
    assert [a["name"] for a in listed] == [a.name for a in analyses()]
    for entry in listed:
        assert entry["example"]
        assert entry["spec_schema"]["type"] == "object"


def test_every_analysis_runs_its_example_and_answers_its_results_to_dict(served):
    read = served.headers("read")
    listed = served.client.get("/api/analyses", headers=read).json()["analyses"]
    for entry in listed:
        response = served.client.post(
            f"/api/analyses/{entry['name']}", json=entry["example"], headers=read
        )
        assert response.status_code == 200, (entry["name"], response.text)
        body = response.json()
        assert body["analysis"] == entry["name"]
        assert isinstance(body["warnings"], list)


def test_the_same_spec_on_the_same_data_comes_from_the_cache(served):
    read = served.headers("read")
    spec = {"steps": [{"event": "Product Viewed"}, {"event": "Order Completed"}], "window": "7d"}
    first = served.client.post("/api/analyses/funnel", json=spec, headers=read)
    again = served.client.post("/api/analyses/funnel", json=spec, headers=read)
    assert again.headers["X-Cache"] == "hit"
    assert again.json() == first.json()


def test_new_data_moves_the_version_so_the_cached_result_is_not_served(served):
    read = served.headers("read")
    spec = {"steps": [{"event": "Product Viewed"}, {"event": "Order Completed"}], "window": "3d"}
    served.client.post("/api/analyses/funnel", json=spec, headers=read)
    message = {
        "type": "track",
        "event": "Product Viewed",
        "userId": "cache-test-user",
        "messageId": "cache-test-1",
        "timestamp": "2026-01-02T00:00:00Z",
    }
    with served.client.app.state.lock:
        served.client.app.state.workspace.ingest([message])
    after = served.client.post("/api/analyses/funnel", json=spec, headers=read)
    assert after.headers["X-Cache"] == "miss"
    assert after.json()["steps"][0]["count"] >= 1
