"""Drivers recover effects planted in the data, report them readably, and degrade gracefully."""

from __future__ import annotations

import math
from datetime import timedelta

import ibis
import numpy as np
import pydantic
import pytest

import journeylens as jl
from journeylens.analysis.registry import get_analysis, parse_spec
from journeylens.errors import SpecError
from journeylens.feedback.drivers import DriversSpec, drivers
from tests.analysis.conftest import _as_events, events_arrow

DAY = 86_400
AS_OF = "2024-01-22T00:00:00"
PLANTED = 0.5  # log-odds of churn per support contact


def planted_rows(n=700, seed=11):
    """Each person: Poisson support calls and visits over 20 days; they churn (no event after
    day 21) with probability logistic(−1.5 + 0.5 · calls); visits have no effect."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        person = f"p{i}"
        calls, visits = rng.poisson(1.2), 1 + rng.poisson(3)
        for c in range(calls):
            rows.append({"person": person, "event": "Call Completed", "ts": (c + 1) * DAY})
        for v in range(visits):
            rows.append(
                {
                    "person": person,
                    "event": "Page",
                    "ts": (v + 1) * DAY + 60,
                    "session_id": f"{person}-{v}",
                    "channel": "Web" if v % 2 else "Email",
                }
            )
        churned = rng.random() < 1 / (1 + math.exp(-(-1.5 + PLANTED * calls)))
        if not churned:
            ordered = rng.random() < 0.3
            rows.append(
                {
                    "person": person,
                    "event": "Order Completed" if ordered else "Page",
                    "ts": 25 * DAY,
                }
            )
    return rows


def answer(person, score, ts):
    """An NPS survey answer."""
    return {"person": person, "event": "Survey Responded", "ts": ts, "properties": {"nps": score}}


@pytest.fixture(scope="module")
def planted():
    return _as_events(ibis.memtable(events_arrow(planted_rows())))


def test_a_planted_churn_effect_is_recovered_within_its_interval(planted):
    spec = DriversSpec(
        outcome="churn", as_of=AS_OF, window="14d", features=["support_contacts", "visits"]
    )
    result = drivers(planted, spec)
    effects = {e["feature"]: e for e in result.effects}
    support = effects["support_contacts"]
    assert support["ci_low"] <= math.exp(PLANTED) <= support["ci_high"]
    assert support["p_value"] < 0.001
    # Visits were drawn independently of churn: their interval covers "no effect".
    assert effects["visits"]["ci_low"] <= 1.0 <= effects["visits"]["ci_high"]
    assert result.persons == 700
    assert "odds to churn" in support["sentence"]


@pytest.fixture(scope="module")
def simulated():
    """1,500 simulated customers over 45 days; churn at day 25 is driven by support calls."""
    sim = jl.simulate(
        1_500, 45, seed=1, driver_effects={"support_contacts": PLANTED}, driver_window_days=20
    )
    ws = jl.Workspace.open()
    ws.ingest(sim.events)
    return sim.truth, ws.events()


def test_a_churn_driver_planted_in_the_simulator_is_recovered_within_its_interval(simulated):
    truth, events = simulated
    spec = DriversSpec(
        outcome="churn", as_of=truth.driver_as_of, window=timedelta(days=truth.driver_window_days)
    )
    result = jl.drivers(events, spec)
    effects = {e["feature"]: e for e in result.effects}
    support = effects["support_contacts"]
    assert (
        support["ci_low"]
        <= math.exp(truth.driver_effects["support_contacts"])
        <= support["ci_high"]
    )
    assert support["p_value"] < 0.01
    # Nothing else was planted: visits before the cut-off do not move churn.
    assert effects["visits"]["ci_low"] <= 1.0 <= effects["visits"]["ci_high"]
    assert result.warnings == ()


def test_the_brands_deliveries_are_not_activity(make_events):
    rows = [{"person": f"p{i}", "event": "Page", "type": "page", "ts": DAY} for i in range(4)]
    # p0 and p1 left: the brand still e-mails them; p2 and p3 come back.
    rows += [{"person": f"p{i}", "event": "Email Delivered", "ts": 20 * DAY} for i in (0, 1)]
    rows += [{"person": f"p{i}", "event": "Page", "type": "page", "ts": 20 * DAY} for i in (2, 3)]
    # p4 was only ever sent messages: not a customer who could churn.
    rows += [{"person": "p4", "event": "Email Delivered", "ts": ts * DAY} for ts in (1, 20)]
    spec = DriversSpec(as_of="2024-01-10", window="20d", features=())
    result = drivers(make_events(rows), spec)
    assert (result.persons, result.positives) == (4, 2)
    counted = drivers(make_events(rows), spec.model_copy(update={"passive_events": ()}))
    # Counted as activity, deliveries make everyone look retained.
    assert [w.code for w in counted.warnings] == ["NO_EVENTS"]


def test_standardised_effects_are_per_standard_deviation(planted):
    base = {"outcome": "churn", "as_of": AS_OF, "window": "14d", "features": ["support_contacts"]}
    unit = drivers(planted, DriversSpec(**base)).effects[0]
    sd = drivers(planted, DriversSpec(**base, scale="standardised")).effects[0]
    assert sd["unit"] == pytest.approx(unit["sd"])
    assert sd["coefficient"] == pytest.approx(unit["coefficient"] * unit["sd"])


def test_conversion_counts_the_conversion_event_in_the_window(planted):
    spec = DriversSpec(outcome="conversion", as_of=AS_OF, window="14d", count_events=["Page"])
    result = drivers(planted, spec)
    assert result.model == "logit"
    assert 0 < result.positives < result.persons
    # Every visit is one Page event: the count repeats the visits and is left out.
    assert "count: Page" not in [e["feature"] for e in result.effects]
    assert "COLLINEAR_FEATURE" in [w.code for w in result.warnings]


def test_channel_correlations_form_a_symmetric_matrix(planted):
    result = drivers(planted, DriversSpec(as_of=AS_OF, window="14d"))
    assert result.channels == ("Email", "Web")
    matrix = np.array(result.correlations, dtype=float)
    assert np.allclose(matrix, matrix.T)
    assert np.allclose(np.diag(matrix), 1.0)


def test_an_nps_outcome_is_a_linear_model_of_the_mean_answer(make_events):
    rows = []
    rng = np.random.default_rng(3)
    for i in range(120):
        calls = int(rng.integers(0, 4))
        rows += [{"person": f"p{i}", "event": "Call Completed", "ts": DAY}] * calls
        rows.append({"person": f"p{i}", "event": "Page", "ts": 2 * DAY})
        score = float(np.clip(8.5 - 1.5 * calls + rng.normal(0, 0.5), 0, 10))
        rows.append(answer(f"p{i}", score, 10 * DAY))
    spec = DriversSpec(
        outcome="nps", as_of="2024-01-05", window="30d", features=["support_contacts"]
    )
    result = drivers(make_events(rows), spec)
    [effect] = result.effects
    assert result.model == "ols"
    assert effect["ci_low"] <= -1.5 <= effect["ci_high"]
    result = drivers(make_events(rows), spec.model_copy(update={"nps_target": "promoter"}))
    assert result.model == "logit"
    assert result.effects[0]["effect"] < 1


def test_a_constant_feature_is_left_out_and_few_events_are_flagged(make_events):
    rows = [{"person": f"p{i}", "event": "Page", "ts": DAY, "session_id": "s"} for i in range(30)]
    rows += [{"person": f"p{i}", "event": "Page", "ts": 30 * DAY} for i in range(25)]
    rows += [{"person": f"p{i}", "event": "Call Completed", "ts": DAY} for i in range(0, 30, 3)]
    spec = DriversSpec(as_of="2024-01-20", window="20d", features=["support_contacts", "visits"])
    result = drivers(make_events(rows), spec)
    codes = [w.code for w in result.warnings]
    assert "CONSTANT_FEATURE" in codes
    assert "FEW_EVENTS" in codes
    assert [e["feature"] for e in result.effects] == ["support_contacts"]


def test_as_many_features_as_persons_is_too_few_to_fit(make_events):
    rows = []
    for i, (calls, visits, score) in enumerate([(0, 1, 9), (1, 2, 6), (3, 2, 2)]):
        rows += [{"person": f"p{i}", "event": "Call Completed", "ts": DAY}] * calls
        rows += [
            {"person": f"p{i}", "event": "Page", "ts": DAY, "session_id": f"{i}-{v}"}
            for v in range(visits)
        ]
        rows.append(answer(f"p{i}", score, 9 * DAY))
    spec = DriversSpec(
        outcome="nps", as_of="2024-01-05", window="30d", features=["support_contacts", "visits"]
    )
    result = drivers(make_events(rows), spec)
    assert [w.code for w in result.warnings] == ["NO_PERSONS"]
    assert "too few" in result.warnings[0].message


def test_a_feature_that_separates_the_outcome_is_flagged(make_events):
    rows = []
    for i in range(40):
        called = i % 2 == 0
        rows.append({"person": f"p{i}", "event": "Page", "ts": DAY})
        if called:
            rows.append({"person": f"p{i}", "event": "Call Completed", "ts": DAY})
        else:
            rows.append({"person": f"p{i}", "event": "Page", "ts": 30 * DAY})
    spec = DriversSpec(as_of="2024-01-20", window="20d", features=["support_contacts"])
    result = drivers(make_events(rows), spec)
    assert "SEPARATION" in [w.code for w in result.warnings]


def test_no_data_or_one_outcome_gives_an_empty_result_with_a_warning(make_events):
    empty = drivers(make_events([]), DriversSpec())
    assert (empty.effects, [w.code for w in empty.warnings]) == ((), ["NO_PERSONS"])
    rows = [{"person": f"p{i}", "event": "Page", "ts": DAY} for i in range(10)]
    same = drivers(make_events(rows), DriversSpec(as_of="2024-01-05", window="5d"))
    assert [w.code for w in same.warnings] == ["NO_EVENTS"]
    assert same.to_dict()["effects"] == []
    same.figure()


def test_the_result_has_a_table_a_document_and_a_forest_plot(planted):
    result = drivers(planted, DriversSpec(as_of=AS_OF, window="14d"))
    frame = result.to_frame()
    assert list(frame.columns[:4]) == ["feature", "unit", "coefficient", "effect"]
    body = result.to_dict()
    assert body["as_of"] == "2024-01-22T00:00:00+00:00"
    assert body["effects"][0]["sentence"].startswith("Customers with")
    fig = result.figure()
    assert fig.layout.xaxis.type == "log"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"outcome": "revenue"}, "outcome"),
        ({"features": ["mood"]}, "features"),
        ({"window": "soon"}, "window"),
        ({"scale": "z"}, "scale"),
        ({"confidence": 0.2}, "confidence"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field(spec, field):
    with pytest.raises(SpecError, match=field):
        parse_spec("drivers", spec)
    with pytest.raises(pydantic.ValidationError):
        DriversSpec.model_validate(spec)


def test_drivers_is_registered_with_a_valid_example():
    assert get_analysis("drivers").spec is DriversSpec
    DriversSpec.model_validate(get_analysis("drivers").example)
