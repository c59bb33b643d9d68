"""The pages about persons: saved segments, customers (the entry to the 360° profile) and
predictions. The filters narrow them to persons with behaviour inside the filters."""

from __future__ import annotations

import json

import ibis
import pandas as pd
import plotly.graph_objects as go

from journeylens.analysis import RFMSpec, rfm
from journeylens.web.pages import Page, Param, Params, page, spec_of
from journeylens.web.scope import Scope
from journeylens.web.views import Chart, Table, View, reasons_text

__all__: list[str] = []

#: Persons listed on the customers and predictions pages; the CSV has the same rows.
_LISTED = 500


def _in_scope(scope: Scope, table: ibis.Table) -> ibis.Table:
    """``table`` (with a ``person_id`` column) narrowed to the persons the filters leave."""
    persons = scope.persons()
    return table if persons is None else table.semi_join(persons, "person_id")


# ---------------------------------------------------------------------------------- segments


def _segments(scope: Scope, params: Params) -> View:
    ws = scope.workspace
    saved = ws.segments()
    persons = scope.persons()
    in_scope = None if persons is None else set(persons.person_id.to_pyarrow().to_pylist())
    rows = []
    for s in saved:
        members = scope.members(s["name"])
        shown = len(members) if in_scope is None else len(in_scope.intersection(members))
        rows.append(
            {
                "segment": s["name"],
                "kind": s["analysis"],
                "persons": shown,
                "definition": json.dumps(s["spec"], sort_keys=True),
                "saved_at": s["saved_at"],
            }
        )
    sizes = pd.DataFrame(rows, columns=["segment", "kind", "persons", "definition", "saved_at"])
    charts = ()
    if len(sizes):
        bars = go.Figure(go.Bar(x=list(sizes["segment"]), y=list(sizes["persons"])))
        bars.update_layout(title="Persons per segment", yaxis_title="persons")
        charts = (Chart.of("Segment sizes", bars),)
    tables = [Table("segments", "Saved segments", sizes)]
    shown_name = str(params["show"]) or (rows[0]["segment"] if rows else "")
    if shown_name:
        members = sorted(scope.members(shown_name))
        if in_scope is not None:
            members = [m for m in members if m in in_scope]
        frame = pd.DataFrame({"person_id": members}, dtype=object)
        tables.append(Table("members", f"Members of {shown_name}", frame))
    notes = ()
    if in_scope is not None:
        notes = ("Sizes and members count only persons active inside the filters.",)
    return View(
        charts=charts,
        tables=tuple(tables),
        notes=notes,
        choices={"show": tuple(s["name"] for s in saved)},
    )


page(
    Page(
        "segments",
        "Segments",
        "Saved segments, their sizes and members; build a new one below (admin key).",
        (Param("show", "Show members of", "", "choice"),),
        _segments,
        cached=False,
    )
)

# --------------------------------------------------------------------------------------- rfm


def _rfm(scope: Scope, params: Params) -> View:
    spec = spec_of(RFMSpec, {"event": params["event"]}, label="rfm")
    result = rfm(scope.events(), spec)
    return View(
        charts=(Chart.of("RFM grid", result.figure()),),
        tables=(
            Table("rfm_segments", "Customers per RFM segment", result.segments()),
            Table(
                "rfm_customers", "Recency, frequency, monetary value per customer", result.customers
            ),
        ),
        warnings=tuple(f"{w.code}: {w.message}" for w in result.warnings),
    )


page(
    Page(
        "rfm",
        "RFM",
        "Customers scored 1–5 on how recently, how often and how much they bought, in segments.",
        (Param("event", "Purchase event", "Order Completed", "event"),),
        _rfm,
    )
)

# --------------------------------------------------------------------------------- customers


def _customers(scope: Scope, params: Params) -> View:
    persons = _in_scope(scope, scope.workspace.persons())
    search = str(params["search"])
    if search:
        id_map = scope.workspace.table("id_map")
        hits = id_map.filter(
            (id_map.id_value.lower() == search.lower()) | (id_map.person_id == search)
        )
        persons = persons.semi_join(hits.select("person_id").distinct(), "person_id")
    by = "message_count" if params["sort"] == "most active" else "last_seen"
    order = ibis.desc(by)
    listed = persons.order_by([order, "person_id"]).limit(_LISTED)
    frame = listed.select(
        "person_id", "user_id", "first_seen", "last_seen", "message_count", "identifier_count"
    ).to_pandas()
    return View(tables=(Table("customers", "Customers", frame),))


page(
    Page(
        "persons",
        "Customers",
        "Find a customer by any identifier (email, phone, user id) and open their profile.",
        (
            Param("search", "Identifier", "", hint="email, phone, user id or person id"),
            Param("sort", "Sort by", "last seen", "select", ("last seen", "most active")),
        ),
        _customers,
        cached=False,
    )
)

# ------------------------------------------------------------------------------- predictions


def _predictions(scope: Scope, params: Params) -> View:
    table = scope.workspace.predictions()
    models = tuple(sorted(table.select("model").distinct().model.to_pyarrow().to_pylist()))
    if not models:
        return View(
            warnings=("NO_PREDICTIONS: No model has scored yet (journeylens predict).",),
            choices={"model": ()},
        )
    model = str(params["model"]) or ("churn" if "churn" in models else models[0])
    rows = _in_scope(scope, table.filter(table.model == model))
    scores = rows.filter(rows.score.notnull()).score.to_pyarrow().to_pylist()
    top = rows.order_by([ibis.desc("score"), "person_id", "rank"]).limit(_LISTED)
    frame = top.select(
        "person_id", "score", "label", "rank", "reasons", "details", "model_version", "as_of"
    ).to_pandas()
    frame["reasons"] = [reasons_text(text) for text in frame["reasons"]]
    charts = ()
    if scores:
        spread = go.Figure(go.Histogram(x=scores, nbinsx=30))
        spread.update_layout(title=f"{model}: scores", xaxis_title="score", yaxis_title="persons")
        charts = (Chart.of("Score distribution", spread),)
    return View(
        charts=charts,
        tables=(Table("scores", f"{model}: highest scores first", frame),),
        choices={"model": models},
        notes=(f"{len(scores):,} scored rows in scope.",),
    )


page(
    Page(
        "predictions",
        "Predictions",
        "Per-person scores of the predictive models with the reasons behind each score.",
        (Param("model", "Model", "", "choice"),),
        _predictions,
        cached=False,
    )
)
