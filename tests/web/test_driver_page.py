"""The Drivers page: a forest plot of effects with intervals, the readable sentences, the table
and the channel correlations as CSV, for churn, conversion or NPS."""

from __future__ import annotations

from tests.web.conftest import csv_rows as rows

from journeylens.web.pages import PAGES


def test_the_page_shows_the_forest_plot_the_sentences_and_the_tables(read_client):
    assert PAGES["drivers"].title == "Drivers"
    html = read_client.get("/drivers").text
    assert 'data-title="What drives the outcome (forest plot)"' in html
    assert "associations, not causes" in html
    # In the small demo no effect is clear, and the page says so rather than list none.
    assert "No effect is clear at p &lt; 0.05" in html
    for table in ("effects", "correlations"):
        assert f"/csv/drivers/{table}" in html
    effects = rows(read_client, "/csv/drivers/effects")
    assert {r["feature"] for r in effects} >= {"support_contacts", "visits"}
    assert all("odds to churn" in r["sentence"] for r in effects)
    p_values = [float(r["p_value"]) for r in effects]
    assert p_values == sorted(p_values)
    matrix = rows(read_client, "/csv/drivers/correlations")
    assert [r["channel"] for r in matrix] == list(matrix[0])[1:]


def test_the_outcome_can_be_conversion(read_client):
    query = "outcome=conversion&window=23d&as_of=2026-01-08"
    assert read_client.get(f"/drivers?{query}").status_code == 200
    effects = rows(read_client, f"/csv/drivers/effects?{query}")
    assert effects
    assert all("odds to convert" in r["sentence"] for r in effects)


def test_the_outcome_can_be_nps_and_too_few_answers_say_so(read_client):
    # The 300-customer demo has about ten NPS answers: too few for five features.
    html = read_client.get("/drivers?outcome=nps&nps_target=promoter").text
    assert "NO_PERSONS" in html
    assert rows(read_client, "/csv/drivers/effects?outcome=nps&nps_target=promoter") == []


def test_nothing_to_explain_shows_the_warning_and_no_empty_plot(read_client):
    html = read_client.get("/drivers?window=365d").text
    assert "NO_PERSONS" in html
    assert "forest plot" not in html


def test_a_bad_parameter_is_a_clear_error(read_client):
    response = read_client.get("/drivers?window=soon")
    assert response.status_code == 400
    assert "window" in response.text
