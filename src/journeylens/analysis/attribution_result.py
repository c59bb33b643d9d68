"""The result of :func:`~journeylens.analysis.attribution.attribution`: credits per model and
channel, path statistics, top paths and the Markov chain's removal effects."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go

from journeylens.analysis.attribution_markov import MarkovAttribution
from journeylens.analysis.base import AnalysisWarning, Result
from journeylens.analysis.path_cleaning import json_records, json_value

__all__ = ["AttributionResult", "PathStatistics"]


@dataclass(frozen=True)
class PathStatistics:
    """Journeys at a glance (conversions may be fractional for path data).

    ``journeys``: converting plus non-converting journeys; ``conversions``; ``value`` (total);
    ``conversion_rate``: conversions ÷ journeys; ``distinct_paths``; ``avg_path_length``:
    touches per conversion (÷ conversions); ``avg_time_to_conversion_seconds``: first touch to
    conversion, averaged over conversions (None for path data); ``single_touch_share``:
    conversions whose journey has one touch ÷ conversions. Ratios are None when their
    denominator is 0.
    """

    journeys: float
    conversions: float
    value: float | None
    conversion_rate: float | None
    distinct_paths: int
    avg_path_length: float | None
    avg_time_to_conversion_seconds: float | None
    single_touch_share: float | None

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values."""
        return {k: json_value(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class AttributionResult(Result):
    """Credits per model and channel, path statistics and top paths; see :func:`attribution`."""

    credits: pd.DataFrame
    statistics: PathStatistics
    top_paths: pd.DataFrame
    models: tuple[str, ...]
    markov: MarkovAttribution | None = None
    warnings: tuple[AnalysisWarning, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per model and channel (see :func:`attribution`)."""
        return self.credits.copy()

    def to_dict(self) -> dict[str, Any]:
        """``models``, ``channels`` (the rows of ``to_frame``), ``statistics``, ``top_paths``
        (``path`` as a list), ``markov`` (``conversion_probability`` and ``removal_effects``
        rows ``{channel, removal_effect}``; None without the Markov model) and ``warnings``."""
        chain = None
        if self.markov is not None:
            chain = {
                "conversion_probability": json_value(self.markov.conversion_probability),
                "removal_effects": json_records(self.markov.credits[["channel", "removal_effect"]]),
            }
        top = self.top_paths.assign(path=[list(p) for p in self.top_paths["path"]])
        return {
            "models": list(self.models),
            "channels": json_records(self.credits),
            "statistics": self.statistics.to_dict(),
            "top_paths": json_records(top),
            "markov": chain,
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self, kind: Literal["models", "paths"] = "models") -> go.Figure:
        """``"models"``: attributed conversions per channel, one bar per model side by side;
        ``"paths"``: the top converting paths as horizontal bars of conversions."""
        fig = go.Figure()
        if kind == "paths":
            top = self.top_paths.iloc[::-1]
            fig.add_trace(
                go.Bar(
                    x=list(top["conversions"]),
                    y=[" > ".join(p) for p in top["path"]],
                    orientation="h",
                    text=[_percent(s) for s in top["share"]],
                )
            )
            return fig.update_layout(
                title="Top converting paths", xaxis_title="Conversions", yaxis_title="Path"
            )
        for model in self.models:
            rows = self.credits[self.credits["model"] == model]
            fig.add_trace(go.Bar(name=model, x=list(rows["channel"]), y=list(rows["conversions"])))
        return fig.update_layout(
            title="Attributed conversions by model",
            barmode="group",
            xaxis_title="Channel",
            yaxis_title="Attributed conversions",
        )


def _percent(share: float) -> str:
    return "" if math.isnan(share) else f"{share:.1%}"
