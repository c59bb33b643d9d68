"""The Experiments page: pick an experiment seen in the data, a metric and a method; see each
variant against control, the sample-ratio check, a forest plot and the cumulative lift."""

from __future__ import annotations

from typing import Any

import pandas as pd

from journeylens.analysis.experiment import experiment
from journeylens.analysis.experiment_spec import ExperimentSpec
from journeylens.analysis.properties import with_property
from journeylens.web.pages import Page, Param, Params, page, spec_of
from journeylens.web.scope import Scope
from journeylens.web.views import Chart, Table, View

__all__: list[str] = []

_EXPOSURE = "Experiment Viewed"
#: The page and screen names the simulator sends (its site sections): a session holding one is
#: a visit, the denominator of "orders per visit".
_VISIT_PAGES = ["Home", "Category", "Search", "Account", "Help"]
_METRICS = ("conversion", "revenue", "count", "revenue per order", "orders per visit")
_METHODS = ("bayesian", "frequentist", "sequential")
_CUPED = ("", "7d", "14d", "30d")


def _metric(kind: str, event: str) -> dict[str, Any]:
    """The metric of the page's form: a kind applied to ``event``."""
    if kind == "revenue per order":
        return {
            "kind": "ratio",
            "name": f"revenue per {event}",
            "numerator": {"value": "revenue", "event": event},
            "denominator": {"value": "count", "event": event},
        }
    if kind == "orders per visit":
        return {
            "kind": "ratio",
            "name": f"{event} per visit",
            "numerator": {"value": "count", "event": event},
            "denominator": {"value": "sessions", "event": {"event": _VISIT_PAGES}},
        }
    return {"kind": kind, "event": event}


def _experiment_ids(scope: Scope) -> tuple[str, ...]:
    events = scope.events()
    seen = events.filter(events.event == _EXPOSURE)
    seen = with_property(seen, "_jl_experiment", "experiment_id")
    ids = seen.filter(seen._jl_experiment.notnull()).select("_jl_experiment").distinct()
    return tuple(sorted(ids._jl_experiment.to_pyarrow().to_pylist()))


def _experiments(scope: Scope, params: Params) -> View:
    ids = _experiment_ids(scope)
    if not ids:
        return View(
            warnings=(f"NO_EXPOSURES: No {_EXPOSURE!r} events carry an experiment_id.",),
            choices={"experiment": ()},
        )
    chosen = str(params["experiment"]) or ids[0]
    spec: ExperimentSpec = spec_of(
        ExperimentSpec,
        {
            "experiment_id": chosen,
            "metrics": [_metric(str(params["metric"]), str(params["event"]))],
            "method": params["method"],
            "cuped_window": params["cuped"] or None,
        },
        label="experiment",
    )
    result = experiment(scope.events(), spec)
    notes = [f"Control: {result.control}. Persons are counted from their first exposure."]
    tables = [Table("variants", "Each variant against control", result.to_frame())]
    if result.srm is not None:
        srm = result.srm
        notes.append(
            f"Sample ratio check: persons {list(srm.observed)} against expected "
            f"{[round(e, 1) for e in srm.expected]}, p = {srm.p_value:.3g} "
            f"({'MISMATCH' if srm.mismatch else 'ok'} at {srm.threshold})."
        )
        srm_frame = pd.DataFrame(
            {
                "variant": list(result.variants)[: len(srm.observed)],
                "persons": list(srm.observed),
                "expected": list(srm.expected),
            }
        )
        tables.append(Table("srm", "Sample ratio: persons per variant", srm_frame))
    tables.append(Table("cumulative", "Cumulative lift by period", result.timeline_frame()))
    return View(
        charts=(
            Chart.of("Lift with interval (forest plot)", result.figure()),
            Chart.of("Cumulative lift", result.timeline_figure()),
        ),
        tables=tuple(tables),
        warnings=tuple(f"{w.code}: {w.message}" for w in result.warnings),
        notes=tuple(notes),
        choices={"experiment": ids},
    )


page(
    Page(
        "experiments",
        "Experiments",
        "Each variant of an A/B test against control: lift, interval, chance to win or "
        "p-value, and the sample-ratio check.",
        (
            Param("experiment", "Experiment", "", "choice"),
            Param("metric", "Metric", "conversion", "select", _METRICS),
            Param("event", "Metric event", "Order Completed", "event"),
            Param("method", "Method", "bayesian", "select", _METHODS),
            Param("cuped", "CUPED pre-period", "", "select", _CUPED, "blank: off"),
        ),
        _experiments,
    )
)
