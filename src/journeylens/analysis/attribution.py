"""Attribution: which touchpoints and channels earn the conversions, by eight models side by side.

Journeys come from the events (see ``attribution_journeys`` for what a touchpoint is and which
touches a conversion's journey holds) or from a table of path strings (:class:`PathData`). Every
model then reads the same distinct paths:

- rules (``attribution_paths``): ``first_touch``, ``last_touch``, ``last_non_direct``,
  ``linear``, ``position_based`` (40/20/40 by default);
- ``time_decay``: half-life weights by each touch's age at the conversion, computed in the
  engine from the touch times (so not available for :class:`PathData`);
- ``markov``: removal effects of an order-k absorbing Markov chain, solved exactly
  (``attribution_markov``);
- ``shapley``: the simplified Shapley value of Zhao et al. (2018), which equals an equal split of
  each conversion among the distinct channels of its journey (``attribution_shapley``).

Spend per channel (``costs``) adds cost per acquisition, ROAS and ROI to every model's credit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, Self, get_args

import ibis
import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from journeylens.analysis.attribution_journeys import (
    JourneyPaths,
    TouchDefinition,
    journey_paths,
    journey_touches,
)
from journeylens.analysis.attribution_markov import MarkovAttribution, markov
from journeylens.analysis.attribution_paths import (
    RULE_MODELS,
    PathCounts,
    path_counts_from_frame,
    rule_credits,
)
from journeylens.analysis.attribution_result import AttributionResult, PathStatistics
from journeylens.analysis.attribution_shapley import shapley
from journeylens.analysis.base import AnalysisWarning, DurationField, Spec
from journeylens.analysis.event_match import EventField, EventMatch
from journeylens.analysis.registry import Analysis, register

__all__ = [
    "MODELS",
    "AttributionResult",
    "AttributionSpec",
    "ChannelCost",
    "PathData",
    "attribution",
]

Model = Literal[
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "markov",
    "shapley",
]
#: Every model, in the order results list them.
MODELS: tuple[Model, ...] = get_args(Model)

_FRAME_COLUMNS = [
    "model",
    "channel",
    "conversions",
    "value",
    "share",
    "spend",
    "cpa",
    "roas",
    "roi",
]


class ChannelCost(Spec):
    """Spend on one channel (a touch label) in one period; rows of a channel add up.

    >>> ChannelCost(channel="Paid Search", spend=1200, date_from="2024-01-01").spend
    1200.0
    """

    channel: str = Field(min_length=1)
    spend: float = Field(ge=0, allow_inf_nan=False)
    date_from: date | None = None
    date_to: date | None = None

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self


class AttributionSpec(Spec):
    """What to attribute, over which journeys, by which models.

    ``conversion``: the conversion event (a name, or ``{event, where}`` with property
    filters). ``value``: the event column or property holding its value (``None``: no value).
    ``touch``: what labels a touch and which events are not touches. ``lookback``: the oldest
    touch a journey keeps. ``markov_order`` (1–4) and ``merge_repeats`` (collapse consecutive
    repeats of a channel before fitting) shape the Markov chain; ``half_life`` the time decay;
    ``position_weights`` (first, middle, last) the position-based model. ``ignore_direct``
    drops Direct touches from journeys with another touch; ``direct_label`` names Direct
    visits. ``costs``: spend rows; a row whose period lies wholly outside
    ``date_from``–``date_to`` is left out. ``top_paths``: how many converting paths to list.
    ``date_from`` / ``date_to``: the days whose conversions count (the data ends at
    ``date_to``).

    >>> AttributionSpec(conversion="Order Completed", models=["linear", "markov"]).lookback.days
    30
    """

    conversion: EventField = EventMatch(event="Order Completed")
    value: str | None = "revenue"
    touch: TouchDefinition = TouchDefinition()
    lookback: DurationField = timedelta(days=30)
    models: tuple[Model, ...] = MODELS
    markov_order: int = Field(1, ge=1, le=4)
    merge_repeats: bool = True
    half_life: DurationField = timedelta(days=7)
    position_weights: tuple[float, float, float] = (0.4, 0.2, 0.4)
    ignore_direct: bool = False
    direct_label: str = Field("Direct", min_length=1)
    costs: tuple[ChannelCost, ...] = ()
    top_paths: int = Field(10, ge=1, le=100)
    date_from: date | None = None
    date_to: date | None = None

    @field_validator("models")
    @classmethod
    def _models_listed_once(cls, models: tuple[Model, ...]) -> tuple[Model, ...]:
        if not models:
            raise ValueError("models must name at least one model")
        if len(set(models)) != len(models):
            raise ValueError("models must not repeat a model")
        return models

    @field_validator("position_weights")
    @classmethod
    def _weights_add_up(cls, weights: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(not math.isfinite(w) or w < 0 for w in weights) or abs(sum(weights) - 1) > 1e-9:
            raise ValueError("position_weights must be 3 non-negative numbers adding up to 1")
        return weights

    @model_validator(mode="after")
    def _range_in_order(self) -> Self:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self


@dataclass(frozen=True, eq=False)
class PathData:
    """Journeys given as a table of path strings instead of events.

    ``df`` holds one row per path (``"email > search > direct"``, split on ``separator``) with
    its conversions and, optionally, its value and non-converting journeys; identical paths add
    up. The table is checked when the ``PathData`` is made (``counts`` holds the parsed paths).

    >>> data = PathData(pd.DataFrame({"path": ["a > b", "b"], "n": [3, 1]}), conversions_col="n")
    >>> data.counts.paths
    (('a', 'b'), ('b',))
    """

    df: pd.DataFrame
    path_col: str = "path"
    conversions_col: str = "conversions"
    value_col: str | None = None
    non_conversions_col: str | None = None
    separator: str = ">"
    counts: PathCounts = field(init=False, repr=False)

    def __post_init__(self) -> None:
        counts = path_counts_from_frame(
            self.df,
            path_col=self.path_col,
            conversions_col=self.conversions_col,
            value_col=self.value_col,
            non_conversions_col=self.non_conversions_col,
            separator=self.separator,
        )
        object.__setattr__(self, "counts", counts)


def attribution(data: ibis.Table | PathData, spec: AttributionSpec) -> AttributionResult:
    """Credit conversions to channels (or any touch label) by every model in ``spec.models``.

    ``data`` is the events table (journeys built as ``attribution_journeys`` says) or a
    :class:`PathData`. With path data the time-decay model needs touch times it does not have:
    it is left out with the warning ``TIME_DECAY_NEEDS_EVENTS``.

    Returns:
        An :class:`AttributionResult`:

        - ``to_frame()`` / ``credits``: one row per model (in ``spec.models`` order) and
          channel (every channel touched or with costs, by name): ``model``, ``channel``,
          ``conversions`` (attributed; a model's rows add up to the observed conversions),
          ``value`` (attributed value; NaN without a value), ``share`` (conversions ÷ the
          model's total), ``spend`` (summed cost rows; NaN when none), ``cpa`` (spend ÷
          conversions), ``roas`` (value ÷ spend), ``roi`` ((value − spend) ÷ spend); each
          ratio is NaN when its denominator is 0 or missing.
        - ``statistics``: :class:`PathStatistics`.
        - ``top_paths``: the ``spec.top_paths`` paths with most conversions: ``path`` (tuple of
          labels), ``conversions``, ``value``, ``non_conversions``, ``conversion_rate``
          (conversions ÷ journeys on the path), ``share`` (conversions ÷ all conversions).
        - ``markov``: the Markov model's removal effects, conversion probability and
          transitions (None without it).
        - ``warnings``: ``NO_JOURNEYS`` (no touch and no conversion), ``NO_CONVERSIONS``
          (journeys but no conversion: no model runs), ``TIME_DECAY_NEEDS_EVENTS``,
          ``COSTS_WITHOUT_TOUCHES`` (spend on a channel nobody touched).

    >>> data = PathData(pd.DataFrame({"path": ["Email > Search", "Search"], "n": [2, 2]}),
    ...                 conversions_col="n")
    >>> r = attribution(data, AttributionSpec(models=["first_touch", "linear"]))
    >>> r.to_frame()[["model", "channel", "conversions"]].values.tolist()
    [['first_touch', 'Email', 2.0], ['first_touch', 'Search', 2.0], ['linear', 'Email', 1.0], ['linear', 'Search', 3.0]]
    """  # noqa: E501
    warnings: list[AnalysisWarning] = []
    half_life = spec.half_life if "time_decay" in spec.models else None
    if isinstance(data, PathData):
        journeys: JourneyPaths | None = JourneyPaths(data.counts)
        has_value = data.value_col is not None
        if half_life is not None:
            warnings.append(
                AnalysisWarning(
                    "TIME_DECAY_NEEDS_EVENTS",
                    "Time decay needs the time of every touch; path data has none, so the "
                    "time_decay model is left out.",
                )
            )
    else:
        touches = journey_touches(
            data,
            conversion=spec.conversion,
            value=spec.value,
            touch=spec.touch,
            lookback=spec.lookback,
            ignore_direct=spec.ignore_direct,
            direct_label=spec.direct_label,
            date_from=spec.date_from,
            date_to=spec.date_to,
        )
        journeys = journey_paths(touches, half_life)
        has_value = spec.value is not None
    if journeys is None or len(journeys.counts) == 0:
        warnings.append(
            AnalysisWarning(
                "NO_JOURNEYS", "No touchpoint or conversion matches: nothing to credit."
            )
        )
        return _result(spec, None, {}, None, has_value, warnings)
    counts = journeys.counts
    credits: dict[str, pd.DataFrame] = {}
    chain = None
    if counts.conversions.sum() <= 0:
        warnings.append(
            AnalysisWarning(
                "NO_CONVERSIONS",
                "There are journeys but no conversion, so no model has anything to credit.",
            )
        )
    else:
        for model in spec.models:
            if model in RULE_MODELS:
                credits[model] = rule_credits(
                    counts,
                    model,
                    direct=spec.direct_label,
                    position_weights=spec.position_weights,
                )
            elif model == "time_decay" and journeys.time_decay is not None:
                credits[model] = journeys.time_decay
            elif model == "markov":
                chain = markov(counts, order=spec.markov_order, merge_repeats=spec.merge_repeats)
                credits[model] = chain.credits
            elif model == "shapley":
                credits[model] = shapley(counts)
    return _result(spec, journeys, credits, chain, has_value, warnings)


def _result(
    spec: AttributionSpec,
    journeys: JourneyPaths | None,
    credits: dict[str, pd.DataFrame],
    chain: MarkovAttribution | None,
    has_value: bool,
    warnings: list[AnalysisWarning],
) -> AttributionResult:
    spend = _spend(spec)
    channels = sorted(set(spend) | set(journeys.counts.channels if journeys else ()))
    unknown = sorted(set(spend) - set(journeys.counts.channels if journeys else ()))
    if unknown:
        warnings.append(
            AnalysisWarning(
                "COSTS_WITHOUT_TOUCHES",
                f"Spend is given for channels no journey touched ({', '.join(unknown)}); "
                "their cost per acquisition is undefined.",
            )
        )
    rows = []
    for model, frame in credits.items():
        got = frame.set_index("channel")
        total = float(got["conversions"].sum())
        for channel in channels:
            conv = float(got["conversions"].get(channel, 0.0))
            value = float(got["value"].get(channel, 0.0)) if has_value else math.nan
            cost = spend.get(channel, math.nan)
            rows.append(
                {
                    "model": model,
                    "channel": channel,
                    "conversions": conv,
                    "value": value,
                    "share": _ratio(conv, total),
                    "spend": cost,
                    "cpa": _ratio(cost, conv),
                    "roas": _ratio(value, cost),
                    "roi": _ratio(value - cost, cost),
                }
            )
    frame = pd.DataFrame(rows, columns=_FRAME_COLUMNS).astype(
        {c: "float64" for c in _FRAME_COLUMNS[2:]}
    )
    return AttributionResult(
        credits=frame,
        statistics=_statistics(journeys, has_value),
        top_paths=_top_paths(journeys, spec.top_paths, has_value),
        models=tuple(credits),
        markov=chain,
        warnings=tuple(warnings),
    )


def _spend(spec: AttributionSpec) -> dict[str, float]:
    out: dict[str, float] = {}
    for cost in spec.costs:
        before = spec.date_from and cost.date_to and cost.date_to < spec.date_from
        after = spec.date_to and cost.date_from and cost.date_from > spec.date_to
        if not (before or after):
            out[cost.channel] = out.get(cost.channel, 0.0) + cost.spend
    return out


def _statistics(journeys: JourneyPaths | None, has_value: bool) -> PathStatistics:
    if journeys is None:
        return PathStatistics(0.0, 0.0, 0.0 if has_value else None, None, 0, None, None, None)
    c = journeys.counts
    conv = float(c.conversions.sum())
    lengths = c.lengths.astype("float64")
    seconds = journeys.seconds_to_conversion
    return PathStatistics(
        journeys=conv + float(c.non_conversions.sum()),
        conversions=conv,
        value=float(c.value.sum()) if has_value else None,
        conversion_rate=_none(_ratio(conv, conv + float(c.non_conversions.sum()))),
        distinct_paths=len(c),
        avg_path_length=_none(_ratio(float(lengths @ c.conversions), conv)),
        avg_time_to_conversion_seconds=None
        if seconds is None
        else _none(_ratio(float(seconds.sum()), conv)),
        single_touch_share=_none(_ratio(float(c.conversions[lengths == 1].sum()), conv)),
    )


def _top_paths(journeys: JourneyPaths | None, limit: int, has_value: bool) -> pd.DataFrame:
    columns = ["path", "conversions", "value", "non_conversions", "conversion_rate", "share"]
    if journeys is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    c = journeys.counts
    frame = pd.DataFrame(
        {
            "path": pd.Series(c.paths, dtype=object),
            "conversions": c.conversions,
            "value": c.value if has_value else np.full(len(c), np.nan),
            "non_conversions": c.non_conversions,
        }
    )
    frame = frame[frame["conversions"] > 0]
    # Ties in conversions by the path's text, so the list is the same on every engine.
    frame = frame.assign(_key=[" > ".join(p) for p in frame["path"]])
    frame = frame.sort_values(["conversions", "_key"], ascending=[False, True]).head(limit)
    total = float(c.conversions.sum())
    return (
        frame.drop(columns="_key")
        .assign(
            conversion_rate=frame["conversions"]
            / (frame["conversions"] + frame["non_conversions"]),
            share=frame["conversions"] / total if total else np.nan,
        )
        .reset_index(drop=True)
    )


def _ratio(numerator: float, denominator: float) -> float:
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return math.nan
    return numerator / denominator


def _none(value: float) -> float | None:
    return None if math.isnan(value) else value


register(
    Analysis(
        name="attribution",
        spec=AttributionSpec,
        run=attribution,
        title="Attribution",
        summary="Which channels earn the conversions, by eight attribution models side by side.",
        example={
            "conversion": "Order Completed",
            "value": "revenue",
            "lookback": "30d",
            "models": list(MODELS),
            "markov_order": 2,
            "costs": [{"channel": "Paid Search", "spend": 500.0}],
        },
    )
)
