"""Planted churn drivers: off by default and exactly as before; on, churn follows the rule."""

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.simulate import simulate, write_parquet
from journeylens.simulate.churn_drivers import PlantedChurn, _intercept
from journeylens.simulate.config import make_config

BETA = 0.7
START = datetime(2026, 1, 1, tzinfo=UTC)  # the simulator's first day
OWN_TYPES = ("track", "page", "screen")
PASSIVE_SOURCES = ("esp", "server")  # the brand's sends and refunds go on after churn


@pytest.fixture(scope="module")
def planted():
    """45 days of 1,500 customers; churn at day 25 driven by support calls."""
    return simulate(
        1_500, 45, seed=4, driver_effects={"support_contacts": BETA}, driver_window_days=20
    )


def _per_person(sim):
    """Per person key: support calls before the cutoff, and whether they did anything of
    their own before / after it."""
    cutoff = sim.truth.driver_as_of
    events = sim.events.select(["type", "event", "timestamp", "source"]).to_pylist()
    keys = sim.truth.messages["person_key"].to_pylist()
    calls, before, after = {}, set(), set()
    for key, row in zip(keys, events, strict=True):
        own = row["type"] in OWN_TYPES and row["source"] not in PASSIVE_SOURCES
        if row["timestamp"] < cutoff:
            calls[key] = calls.get(key, 0) + (row["event"] == "Call Completed")
            before |= {key} if own else set()
        elif own:
            after.add(key)
    return calls, before, after


def test_the_option_off_is_the_default_and_changes_nothing():
    plain = simulate(300, 20, seed=5)
    assert plain.events.equals(simulate(300, 20, seed=5, driver_effects={}).events)
    assert plain.truth.driver_effects == {}
    assert plain.truth.driver_as_of is None
    assert plain.truth.driver_window_days == 0


def test_the_truth_records_the_planted_effect_and_the_cutoff(planted):
    assert planted.truth.driver_effects == {"support_contacts": BETA}
    assert planted.truth.driver_as_of == START + timedelta(days=25)
    assert planted.truth.driver_window_days == 20
    churn_days = set(planted.truth.churners["churn_day"].to_pylist())
    assert churn_days == {25}


def test_churners_stop_at_the_cutoff_and_everyone_else_stays_active(planted):
    _, before, after = _per_person(planted)
    churned = dict(
        zip(
            *planted.truth.persons.select(["person_key", "churned"]).to_pydict().values(),
            strict=True,
        )
    )
    assert before, "someone is active before the cutoff"
    for key in before:
        assert (key in after) != churned[key], key


def test_churn_follows_the_planted_logistic_rule_in_support_calls(planted):
    calls, before, _ = _per_person(planted)
    churned = dict(
        zip(
            *planted.truth.persons.select(["person_key", "churned"]).to_pydict().values(),
            strict=True,
        )
    )
    keys = sorted(before)
    x = np.array([calls.get(k, 0) for k in keys], dtype=float)
    y = np.array([churned[k] for k in keys], dtype=float)
    fit = sm.Logit(y, sm.add_constant(x)).fit(disp=0)
    low, high = fit.conf_int(0.01)[1]
    assert low <= BETA <= high
    assert x.mean() > 0.3  # enough calls to carry the effect


def test_churn_share_is_the_mean_churn_probability():
    assert _intercept(np.zeros(4), 0.2) == pytest.approx(math.log(0.2 / 0.8), abs=1e-9)
    logit = np.array([0.0, 1.0, 2.0])
    alpha = _intercept(logit, 0.4)
    assert np.mean(1 / (1 + np.exp(-(alpha + logit)))) == pytest.approx(0.4)


def test_planted_calls_replace_the_usual_calls_before_the_cutoff():
    cfg = make_config(10, 30, driver_effects={"support_contacts": 0.5}, driver_window_days=10)
    cut = cfg.driver_cutoff_us
    offline = {
        "person": np.array([0, 1, 2]),
        "device": np.full(3, -1),
        "start_us": np.array([cut - 1, cut - 1, cut + 1]),
        "kind": np.array([3, 2, 3]),  # call before, store before, call after
        "touch": np.zeros(3, dtype=np.int64),
    }
    calls = {k: v[:1] + (7 if k == "person" else 0) for k, v in offline.items()}
    plant = PlantedChurn(pop=None, own={}, reg_us=np.array([]), calls=calls, contacts=np.array([]))
    merged = plant.with_calls(cfg, offline)
    assert merged["person"].tolist() == [1, 2, 7]


def test_write_parquet_records_the_planted_drivers(tmp_path):
    write_parquet(
        tmp_path / "e.parquet",
        200,
        20,
        seed=1,
        truth_dir=tmp_path / "truth",
        driver_effects={"support_contacts": 0.4},
        driver_window_days=5,
    )
    extra = json.loads((tmp_path / "truth" / "truth.json").read_text())
    assert extra["driver_effects"] == {"support_contacts": 0.4}
    assert extra["driver_as_of"] == "2026-01-16T00:00:00Z"
    assert extra["driver_window_days"] == 5
    churners = pq.read_table(tmp_path / "truth" / "churners.parquet")
    assert pc.unique(churners["churn_day"]).to_pylist() == [15]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"driver_effects": {"refunds": 0.5}}, UnknownNameError, "refunds"),
        ({"driver_effects": {"support_contacts": 9}}, ValidationError, "driver_effects"),
        (
            {"driver_effects": {"support_contacts": 0.5}, "churn_warning_days": 7},
            ValidationError,
            "churn_warning_days",
        ),
        (
            {"driver_effects": {"support_contacts": 0.5}, "driver_window_days": 30},
            ValidationError,
            "driver_window_days",
        ),
    ],
)
def test_bad_driver_options_get_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_config(10, 30, **kwargs)
