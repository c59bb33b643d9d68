"""Experiment assignment: uniform hashing, weights, stickiness, factorial designs, exposures."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from journeylens.activate.assignment import (
    Assignment,
    ExperimentDesign,
    assign,
    exposure_message,
    unit_hash,
)
from journeylens.errors import ValidationError

AB = ExperimentDesign(experiment_id="hero", variants=[{"name": "control"}, {"name": "big"}])


def _counts(design: ExperimentDesign, units: int) -> Counter:
    return Counter(assign(design, anonymous_id=f"device-{i}").variant for i in range(units))


def test_unit_hashes_are_uniform_over_many_ids():
    # 20 equal bins over 20 000 ids: chi-squared goodness of fit against uniform
    bins = Counter(int(unit_hash("salt", f"id-{i}") * 20) for i in range(20_000))
    assert sps.chisquare([bins[b] for b in range(20)]).pvalue > 0.001


def test_weights_set_each_arms_share():
    design = ExperimentDesign(
        experiment_id="w",
        variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 2}, {"name": "c"}],
    )
    counts = _counts(design, 12_000)
    expected = [3_000, 6_000, 3_000]
    assert sps.chisquare([counts[v] for v in "abc"], expected).pvalue > 0.001


@given(st.text(min_size=1, max_size=40))
def test_a_unit_always_gets_the_same_variant(unit):
    first = assign(AB, anonymous_id=unit)
    assert all(assign(AB, anonymous_id=unit) == first for _ in range(3))


def test_a_device_keeps_its_arm_after_login_and_a_person_keeps_theirs_across_devices():
    assert (
        assign(AB, anonymous_id="d1").variant == assign(AB, anonymous_id="d1", user_id="u").variant
    )
    person = AB.model_copy(update={"unit": "person"})
    arms = {assign(person, user_id="u7", anonymous_id=f"d{i}").variant for i in range(50)}
    assert len(arms) == 1


def test_a_new_salt_reshuffles_the_units():
    salted = AB.model_copy(update={"salt": "second-run"})
    same = sum(
        assign(AB, anonymous_id=f"d{i}").variant == assign(salted, anonymous_id=f"d{i}").variant
        for i in range(2_000)
    )
    assert 850 < same < 1_150  # independent coin flips agree about half the time


def test_a_full_factorial_runs_every_combination_equally():
    design = ExperimentDesign(
        experiment_id="mv",
        factors=[
            {"name": "A", "levels": ["a0", "a1"]},
            {"name": "B", "levels": ["b0", "b1", "b2"]},
        ],
    )
    assert len(design.arms()) == 6
    counts = _counts(design, 6_000)
    assert sps.chisquare(list(counts.values())).pvalue > 0.001
    one = assign(design, anonymous_id="x")
    assert one.factors == dict(p.split("=") for p in one.variant.split(","))


def test_a_half_fraction_with_c_equal_ab_runs_the_four_defining_combinations():
    design = ExperimentDesign(
        experiment_id="frac",
        factors=[{"name": n, "levels": [f"{n}-", f"{n}+"]} for n in "ABC"],
        design="fractional",
        generators=["C=AB"],
    )
    runs = {tuple(r.values()) for r in design.runs()}
    # coded: (−,−,+), (+,−,−), (−,+,−), (+,+,+): C is the product of A and B
    assert runs == {
        ("A-", "B-", "C+"),
        ("A+", "B-", "C-"),
        ("A-", "B+", "C-"),
        ("A+", "B+", "C+"),
    }


@pytest.mark.parametrize(
    "values",
    [
        {"variants": [{"name": "a"}]},
        {"variants": [{"name": "a"}, {"name": "a"}]},
        {"variants": [{"name": "a"}, {"name": "b", "weight": 0}]},
        {
            "variants": [{"name": "a"}, {"name": "b"}],
            "factors": [{"name": "A", "levels": ["x", "y"]}],
        },
        {
            "factors": [{"name": "A", "levels": ["x", "y", "z"]}],
            "design": "fractional",
            "generators": ["A=B"],
        },
        {
            "factors": [{"name": n, "levels": ["x", "y"]} for n in "ABC"],
            "design": "fractional",
            "generators": ["C=AD"],
        },
        {"factors": [{"name": n, "levels": ["x", "y"]} for n in "AB"], "design": "fractional"},
        {"factors": [{"name": "variant", "levels": ["x", "y"]}]},
    ],
)
def test_bad_designs_are_refused(values):
    with pytest.raises(pydantic.ValidationError):
        ExperimentDesign(experiment_id="bad", **values)


def test_assigning_without_the_needed_id_is_refused():
    with pytest.raises(ValidationError, match="anonymous_id"):
        assign(AB, user_id="u1")


def test_the_exposure_message_is_a_segment_track_call_with_a_stable_id():
    a = Assignment(experiment_id="hero", unit_id="d1", variant="big", factors={})
    when = datetime(2024, 5, 1, 12, tzinfo=UTC)
    message = exposure_message(a, anonymous_id="d1", user_id="u1", timestamp=when)
    assert message["type"] == "track"
    assert message["event"] == "Experiment Viewed"
    assert message["properties"] == {"experiment_id": "hero", "variant": "big"}
    assert (message["userId"], message["anonymousId"]) == ("u1", "d1")
    assert (
        exposure_message(a, anonymous_id="d1", timestamp=when)["messageId"] == message["messageId"]
    )
    with pytest.raises(ValidationError, match="time zone"):
        exposure_message(a, anonymous_id="d1", timestamp=datetime(2024, 5, 1))


def test_a_recorded_exposure_is_read_back_by_the_experiment_analysis():
    import journeylens as jl
    from journeylens.analysis.experiment import experiment
    from journeylens.analysis.experiment_spec import ExperimentSpec

    when = datetime(2024, 5, 1, tzinfo=UTC)
    messages = [
        exposure_message(assign(AB, anonymous_id=f"d{i}"), anonymous_id=f"d{i}", timestamp=when)
        for i in range(40)
    ]
    ws = jl.Workspace.open()
    ws.ingest(messages)
    spec = ExperimentSpec(experiment_id="hero", metrics=[{"kind": "count"}], method="frequentist")
    result = experiment(ws.events(), spec)
    assert sum(result.srm.observed) == 40
    assert set(result.variants) == {"control", "big"}
