"""Surveys over the API: save, list, read one, import a CSV export; bad input is refused."""

from __future__ import annotations

SURVEY = {
    "id": "api_nps",
    "name": "API NPS",
    "questions": [
        {"id": "nps", "type": "nps", "text": "Would you recommend us?"},
        {"id": "why", "type": "text", "text": "Why?"},
    ],
}
EXPORT = (
    "user_id,submitted_at,nps,why\n"
    "s-u1,2026-01-05T10:00:00Z,10,Great\n"
    "s-u2,2026-01-06T10:00:00Z,12,\n"
    ",2026-01-06T10:00:00Z,5,\n"
)


def test_an_admin_saves_a_survey_that_a_read_key_lists_and_reads(served):
    saved = served.client.post("/api/surveys", json=SURVEY, headers=served.headers("admin"))
    assert saved.status_code == 201
    assert saved.json()["questions"][0]["options"] == []
    read = served.headers("read")
    listed = served.client.get("/api/surveys", headers=read).json()["surveys"]
    assert "api_nps" in [s["id"] for s in listed]
    one = served.client.get("/api/surveys/api_nps", headers=read).json()
    assert one["name"] == "API NPS"


def test_a_read_key_cannot_save_a_survey(served):
    response = served.client.post("/api/surveys", json=SURVEY, headers=served.headers("read"))
    assert response.status_code == 403


def test_a_bad_survey_is_refused_with_the_field_named(served):
    bad = SURVEY | {"questions": [{"id": "q", "type": "choice", "text": "?", "options": ["a"]}]}
    response = served.client.post("/api/surveys", json=bad, headers=served.headers("admin"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_SPEC"
    assert "two distinct options" in response.json()["error"]["message"]


def test_an_unknown_survey_is_named(served):
    response = served.client.get("/api/surveys/nope", headers=served.headers("read"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "UNKNOWN_NAME"


def test_a_csv_export_is_imported_keeping_good_rows_and_reporting_bad_ones(served):
    admin = served.headers("admin")
    served.client.post("/api/surveys", json=SURVEY, headers=admin)
    response = served.client.post(
        "/api/surveys/api_nps/import?email=",
        content=EXPORT.encode(),
        headers=admin | {"Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["rows"], body["accepted_rows"], body["events"]) == (3, 1, 2)
    assert [(r["row"], r["code"]) for r in body["rejected"]] == [
        (1, "BAD_ANSWER"),
        (2, "MISSING_RESPONDENT"),
    ]


def test_an_export_that_cannot_be_read_is_refused(served):
    admin = served.headers("admin") | {"Content-Type": "text/csv"}
    served.client.post("/api/surveys", json=SURVEY, headers=served.headers("admin"))
    empty = served.client.post("/api/surveys/api_nps/import", content=b"", headers=admin)
    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "INVALID_SOURCE")
    wrong = served.client.post("/api/surveys/api_nps/import", content=b"a,b\n1,2\n", headers=admin)
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, "INVALID_MAPPING")
