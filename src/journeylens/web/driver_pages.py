"""The Drivers page: what goes with churn, conversion or NPS, as a forest plot of effects with
their intervals, the readable sentences, the table behind them and the channel correlations.

It runs the registered ``drivers`` analysis (``journeylens.feedback.drivers``) on the filtered
events with the outcome, window and cut-off picked in the form.
"""

from __future__ import annotations

import pandas as pd

from journeylens.feedback.drivers import DriversResult, DriversSpec, drivers
from journeylens.web.pages import Page, Param, Params, page, spec_of
from journeylens.web.scope import Scope
from journeylens.web.views import Chart, Table, View

__all__: list[str] = []

_OUTCOMES = ("churn", "conversion", "nps")
_NPS_TARGETS = ("mean", "promoter")
_SCALES = ("per_unit", "standardised")
#: Below this p-value an effect's sentence is listed among the notes (the table has them all).
_NOTED_P = 0.05


def _effects(result: DriversResult) -> pd.DataFrame:
    """The effects as the page lists them: strongest evidence first."""
    return result.to_frame().sort_values("p_value", kind="stable").reset_index(drop=True)


def _correlations(result: DriversResult) -> pd.DataFrame:
    """The channel correlation matrix as a table: one row per channel."""
    matrix = pd.DataFrame(list(result.correlations), columns=list(result.channels))
    return matrix.assign(channel=list(result.channels))[["channel", *result.channels]]


def _notes(result: DriversResult, effects: pd.DataFrame) -> tuple[str, ...]:
    if not result.persons:
        return ()
    who = f"{result.persons:,} persons active before {result.as_of:%Y-%m-%d %H:%M} UTC"
    if result.positives is not None:
        who += f", {result.positives:,} of them with the outcome"
    clear = effects[effects.p_value < _NOTED_P]
    sentences = tuple(clear.sentence) or (
        f"No effect is clear at p < {_NOTED_P:g}: every interval is in the table.",
    )
    return (
        f"{who}.",
        *sentences,
        "These are associations, not causes: a feature can stand in for something unmeasured.",
    )


def _drivers(scope: Scope, params: Params) -> View:
    spec: DriversSpec = spec_of(
        DriversSpec,
        {
            "outcome": params["outcome"],
            "window": params["window"],
            "as_of": params["as_of"],
            "nps_target": params["nps_target"],
            "scale": params["scale"],
        },
        label="drivers",
    )
    result = drivers(scope.events(), spec)
    effects = _effects(result)
    tables = [Table("effects", "Effects with their intervals", effects)]
    if result.channels:
        tables.append(
            Table("correlations", "Channels the same customers use", _correlations(result))
        )
    # No effects (no persons, one outcome for all): the warnings say why; no empty plot.
    chart = Chart.of("What drives the outcome (forest plot)", result.figure())
    return View(
        charts=(chart,) if result.effects else (),
        tables=tuple(tables),
        warnings=tuple(f"{w.code}: {w.message}" for w in result.warnings),
        notes=_notes(result, effects),
    )


page(
    Page(
        "drivers",
        "Drivers",
        "Which behaviours go with churn, conversion or NPS, and how strongly: effects with "
        "confidence intervals.",
        (
            Param("outcome", "Outcome", "churn", "select", _OUTCOMES),
            Param("window", "Outcome watched for", "14d", hint="e.g. 14d, 30d"),
            Param("as_of", "Cut-off", "", hint="blank: the latest event minus the window"),
            Param("nps_target", "NPS as", "mean", "select", _NPS_TARGETS),
            Param("scale", "Effects per", "per_unit", "select", _SCALES),
        ),
        _drivers,
    )
)
