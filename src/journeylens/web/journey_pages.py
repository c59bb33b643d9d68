"""The Journeys page: a published journey as a graph with live counts per node, its sends and
engagement, and the goal lift over its holdout with the confidence interval."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from journeylens.activate.publish import list_journeys
from journeylens.activate.report import JourneyReport, journey_report, preview_report
from journeylens.activate.templates import load_template, templates
from journeylens.web.pages import Page, Param, Params, page
from journeylens.web.scope import Scope
from journeylens.web.views import Chart, Table, View

__all__: list[str] = []


def _journeys(scope: Scope, params: Params) -> View:
    if scope.workspace.backend.name != "duckdb":
        return View(warnings=("NO_JOURNEYS: journeys run on the embedded DuckDB store only.",))
    listed = list_journeys(scope.workspace)
    ids = tuple(j["journey_id"] for j in listed)
    if not ids:
        return _templates_view()
    chosen = str(params["journey"]) or ids[0]
    report = journey_report(scope.workspace, chosen)
    groups = pd.DataFrame([{"group": name, **values} for name, values in report.groups.items()])
    tables = (
        Table("nodes", "Counts per node", report.to_frame()),
        Table("groups", "Goal by group (rate = converted ÷ instances)", groups),
        Table("journeys", "Published journeys", pd.DataFrame(listed)),
    )
    charts = [Chart.of("The journey, with live counts per node", report.figure())]
    if report.lift is not None and report.lift["lift"] is not None:
        charts.append(Chart.of("Goal lift over the holdout (95% CI)", _lift_figure(report)))
    return View(
        charts=tuple(charts),
        tables=tables,
        warnings=tuple(_warning(code) for code in report.warnings),
        notes=(_lift_note(report), f"Version {report.version}, {report.status}."),
        choices={"journey": ids},
    )


def _templates_view() -> View:
    """Nothing published yet: the shipped templates, and the first one's graph as a preview."""
    names = templates()
    journeys = [load_template(name) for name in names]
    frame = pd.DataFrame(
        [
            {
                "template": name,
                "journey_id": j.id,
                "name": j.name,
                "entry": j.entry.kind,
                "nodes": len(j.nodes),
                "description": j.description,
            }
            for name, j in zip(names, journeys, strict=True)
        ]
    )
    preview = preview_report(journeys[0])
    return View(
        charts=(Chart.of(f"Template preview: {preview.name} (not published)", preview.figure()),),
        tables=(Table("templates", "Journey templates you can publish", frame),),
        warnings=(
            "NO_JOURNEYS: no journey is published; `journeylens journeys publish FILE` "
            "or POST /api/journeys publishes one.",
        ),
        choices={"journey": ()},
    )


def _lift_figure(report: JourneyReport) -> go.Figure:
    lift = report.lift or {}
    low, high = lift["lift_interval"]
    value = lift["lift"]
    figure = go.Figure(
        go.Scatter(
            x=[value],
            y=["goal"],
            mode="markers",
            marker={"size": 12},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [high - value],
                "arrayminus": [value - low],
            },
            name="relative lift",
        )
    )
    figure.add_vline(x=0, line_dash="dot")
    figure.update_layout(
        xaxis={"title": "relative lift of the goal rate", "tickformat": ".0%"},
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
    )
    return figure


def _lift_note(report: JourneyReport) -> str:
    lift = report.lift
    if lift is None:
        return "The journey has no goal: no lift to measure."
    if lift["lift"] is None:
        return f"Lift not measurable yet ({lift['degenerate'] or 'too few persons'})."
    low, high = lift["lift_interval"]
    return (
        f"Goal rate {lift['treatment_mean']:.1%} with the journey against "
        f"{lift['control_mean']:.1%} in the holdout: lift {lift['lift']:+.1%} "
        f"(95% CI {low:+.1%} to {high:+.1%}, p = {lift['p_value']:.3g})."
    )


def _warning(code: str) -> str:
    text = {
        "NO_GOAL": "the journey has no goal",
        "NO_HOLDOUT": "nobody is in the holdout yet (holdout_share 0?)",
        "NO_INSTANCES": "nobody has entered yet",
    }
    return f"{code}: {text.get(code, code)}"


page(
    Page(
        "journeys",
        "Journeys",
        "A published journey as a graph with live counts per node, its sends, and the goal "
        "lift against its holdout.",
        (Param("journey", "Journey", "", "choice"),),
        _journeys,
        cached=False,
    )
)
