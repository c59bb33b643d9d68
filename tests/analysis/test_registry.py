"""The registry: the contract every analysis keeps, and how specs are read and refused."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

import journeylens as jl
from journeylens.analysis import (
    Analysis,
    AnalysisWarning,
    Result,
    Spec,
    analyses,
    get_analysis,
    parse_spec,
    register,
    run_analysis,
)
from journeylens.analysis import registry as registry_module
from journeylens.analysis.base import DurationField
from journeylens.errors import SpecError, UnknownNameError, ValidationError

# ---------------------------------------------------------------- contract over every entry


@pytest.fixture(scope="module")
def sim_events():
    ws = jl.Workspace.open()
    ws.ingest(jl.simulate(customers=150, days=21, seed=3).events)
    return ws.events().cache()


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_all_finite(v) for v in value)
    return True


ENTRIES = analyses()


def test_the_built_in_analyses_are_registered():
    names = {a.name for a in ENTRIES}
    assert names >= {"funnel", "paths", "transitions", "retention", "lifecycle", "trends"}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda a: a.name)
def test_an_example_spec_round_trips_through_json(entry):
    spec = parse_spec(entry.name, entry.example)
    text = spec.model_dump_json()
    assert parse_spec(entry.name, text) == spec
    assert parse_spec(entry.name, json.loads(text)) == spec


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda a: a.name)
def test_an_analysis_keeps_the_result_contract_on_simulated_events(entry, sim_events):
    result = run_analysis(entry.name, sim_events, entry.example)
    assert isinstance(result, Result)
    assert isinstance(result.to_frame(), pd.DataFrame)
    body = result.to_dict()
    assert _all_finite(body), "to_dict must not hold NaN or infinities"
    assert json.loads(json.dumps(body, allow_nan=False)) == body
    assert body["warnings"] == [w.to_dict() for w in result.warnings]
    assert isinstance(result.figure(), go.Figure)
    assert entry.title
    assert entry.summary.endswith(".")


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda a: a.name)
def test_an_empty_table_gives_an_empty_valid_result_with_a_warning(entry, sim_events):
    empty = sim_events.filter(sim_events.event == "no such event at all").filter(False)
    result = run_analysis(entry.name, empty, entry.example)
    assert result.warnings, "an empty result must say why it is empty"
    json.dumps(result.to_dict(), allow_nan=False)
    assert isinstance(result.figure(), go.Figure)


# ---------------------------------------------------------------- registry mechanics


class CountSpec(Spec):
    event: str
    window: DurationField = "1d"


@dataclass(frozen=True)
class CountResult(Result):
    count: int
    warnings: tuple[AnalysisWarning, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"count": [self.count]})

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "warnings": [w.to_dict() for w in self.warnings]}

    def figure(self) -> go.Figure:
        return go.Figure(go.Bar(y=[self.count]))


def count(events, spec: CountSpec) -> CountResult:
    return CountResult(int(events.filter(events.event == spec.event).count().execute()))


COUNT = Analysis(
    name="event_count",
    spec=CountSpec,
    run=count,
    title="Event count",
    summary="How many times an event happened.",
    example={"event": "view"},
)


@pytest.fixture
def with_count(monkeypatch):
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))
    register(COUNT)
    return COUNT


def test_a_registered_analysis_runs_from_a_mapping_json_text_or_spec(with_count, make_events):
    events = make_events([{"person": "a", "event": "view", "ts": 1}] * 3)
    assert run_analysis("event_count", events, {"event": "view"}).count == 3
    assert run_analysis("event_count", events, '{"event": "view"}').count == 3
    assert run_analysis("event_count", events, CountSpec(event="view")).count == 3
    assert get_analysis("event_count") is COUNT


def test_a_duration_field_reads_units_and_writes_seconds_back(with_count):
    spec = parse_spec("event_count", {"event": "view", "window": "2w"})
    assert spec.window.days == 14
    assert json.loads(spec.model_dump_json())["window"] == "1209600s"


def test_an_unknown_analysis_name_suggests_the_closest_one(with_count):
    with pytest.raises(UnknownNameError, match="Did you mean 'event_count'"):
        get_analysis("event_cuont")


def test_a_second_analysis_under_a_taken_name_is_refused(with_count):
    clone = Analysis("event_count", CountSpec, count, "Again", "Again.", {"event": "x"})
    with pytest.raises(ValidationError, match="already registered"):
        register(clone)


@pytest.mark.parametrize(
    ("spec", "field", "problem"),
    [
        ({}, "event", "Field required"),
        ({"event": "view", "colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"event": "view", "window": "soon"}, "window", "not a duration"),
        ({"event": "view", "window": "-3d"}, "window", "not a duration"),
        ("{not json", "", "not valid JSON"),
        ("[1, 2]", "", "must be a JSON object"),
    ],
)
def test_a_bad_spec_names_the_field_and_the_problem(with_count, spec, field, problem):
    with pytest.raises(SpecError) as info:
        parse_spec("event_count", spec)
    error = info.value
    assert error.code == "INVALID_SPEC"
    assert error.status == 400
    assert [e["field"] for e in error.errors] == [field]
    assert problem in error.errors[0]["problem"]
    assert error.to_dict()["detail"]["errors"] == error.errors


def test_a_spec_of_another_analysis_is_refused(with_count):
    class OtherSpec(Spec):
        event: str

    with pytest.raises(SpecError, match="expected a CountSpec"):
        parse_spec("event_count", OtherSpec(event="view"))


def test_plugins_enter_through_the_entry_point_group(monkeypatch):
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))
    monkeypatch.setattr(registry_module, "_plugins_loaded", False)

    class Point:
        def load(self):
            return COUNT

    monkeypatch.setattr(registry_module, "entry_points", lambda group: [Point()])
    assert get_analysis("event_count") is COUNT
