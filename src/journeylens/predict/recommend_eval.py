"""Offline evaluation of recommendations on a time split, beside the popularity baseline.

The model learns from product events before ``as_of - test_period`` and recommends ``k``
products per person; the products each person then engaged with in ``[as_of - test_period,
as_of)`` are the relevant set. Only persons with history before the split and at least one
relevant product are scored (a cold person gets popularity from both). Purchased products are
excluded from both lists the same way, so neither side is credited with a repeat purchase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from journeylens.analysis.base import AnalysisWarning, Result
from journeylens.errors import ValidationError
from journeylens.predict.cutoff import check_as_of
from journeylens.predict.recommend import (
    EVENT_WEIGHTS,
    ItemItemRecommender,
    PopularityRecommender,
    interactions,
)

__all__ = ["RecommendationReport", "evaluate_recommendations", "ranking_metrics"]

_METRICS = ("precision", "recall", "map")


def ranking_metrics(recs: pd.DataFrame, relevant: pd.Series, k: int) -> dict[str, np.ndarray]:
    """precision@i, recall@i and MAP@i for i = 1..k, averaged over the persons in ``relevant``.

    Args:
        recs: ``person_id``, ``rank``, ``product_id`` rows.
        relevant: person_id → set of relevant product ids (non-empty).
        k: the cut-off.

    Returns:
        dict ``precision``, ``recall``, ``map`` of arrays of length ``k``: precision@i = hits in
        the top i / i; recall@i = hits in the top i / relevant products; AP@i = sum over hit
        ranks r <= i of precision@r, over min(relevant products, i); each averaged over persons
        (a person with fewer than i recommendations counts the missing ones as misses).

    >>> recs = pd.DataFrame({"person_id": ["a", "a"], "rank": [1, 2], "product_id": ["x", "y"]})
    >>> {m: v.tolist() for m, v in ranking_metrics(recs, pd.Series({"a": {"y"}}), 2).items()}
    {'precision': [0.0, 0.5], 'recall': [0.0, 1.0], 'map': [0.0, 0.5]}
    """
    persons = relevant.index
    hit = np.zeros((len(persons), k))
    shown = recs[recs["rank"] <= k]
    rows = persons.get_indexer(shown.person_id)
    keep = rows >= 0
    shown, rows = shown[keep], rows[keep]
    wanted = relevant.reindex(shown.person_id).to_numpy()
    is_hit = np.array([p in s for p, s in zip(shown.product_id, wanted, strict=True)], dtype=bool)
    hit[rows[is_hit], shown["rank"].to_numpy(int)[is_hit] - 1] = 1.0
    cut = np.arange(1, k + 1)
    hits = hit.cumsum(axis=1)
    size = relevant.map(len).to_numpy(float)[:, None]
    precision_at = hits / cut
    ap = (precision_at * hit).cumsum(axis=1) / np.minimum(size, cut)
    return {
        "precision": precision_at.mean(axis=0),
        "recall": (hits / size).mean(axis=0),
        "map": ap.mean(axis=0),
    }


@dataclass(frozen=True)
class RecommendationReport(Result):
    """Time-split ranking quality of the model and of the popularity baseline.

    Attributes:
        k: the cut-off.
        split: the train/test boundary (ISO-8601 in ``to_dict``).
        as_of: end of the test period.
        persons: persons scored (history before the split and relevant products after).
        curves: model name ("item_item", "popularity") → metric → values at 1..k.
    """

    k: int
    split: datetime
    as_of: datetime
    persons: int
    curves: dict[str, dict[str, list[float]]]
    warnings: tuple[AnalysisWarning, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """One row per model: ``model``, ``precision_at_k``, ``recall_at_k``, ``map_at_k``,
        ``persons`` (the denominator of every average)."""
        rows = [
            {
                "model": name,
                **{f"{m}_at_k": (v[m][-1] if v[m] else None) for m in _METRICS},
                "persons": self.persons,
            }
            for name, v in self.curves.items()
        ]
        return pd.DataFrame(rows, columns=["model", *(f"{m}_at_k" for m in _METRICS), "persons"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``k``, ``split``, ``as_of``, ``persons``, ``models`` (the frame's rows),
        ``curves`` and ``warnings``."""
        models = self.to_frame().astype(object).where(lambda f: f.notna(), None)
        return {
            "k": self.k,
            "split": self.split.isoformat(),
            "as_of": self.as_of.isoformat(),
            "persons": self.persons,
            "models": models.to_dict("records"),
            "curves": self.curves,
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """precision@i and recall@i for i = 1..k, one line per model and metric."""
        fig = go.Figure()
        cut = list(range(1, self.k + 1))
        for name, values in self.curves.items():
            for metric in ("precision", "recall"):
                if values[metric]:
                    fig.add_scatter(x=cut, y=values[metric], name=f"{name} {metric}@k")
        fig.update_layout(
            title=f"Recommendations on {self.persons} persons after the split",
            xaxis_title="k",
            yaxis_title="share",
        )
        return fig


def evaluate_recommendations(
    events: ibis.Table,
    *,
    as_of: datetime,
    test_period: timedelta = timedelta(days=30),
    k: int = 10,
    model: ItemItemRecommender | None = None,
    weights: dict[str, float] | None = None,
) -> RecommendationReport:
    """Precision@k, recall@k and MAP@k of ``model`` and of popularity on a time split.

    Returns:
        :class:`RecommendationReport`; with no scorable person it has empty curves and a
        ``NO_TEST_PERSONS`` warning.

    >>> from datetime import UTC
    >>> ev = ibis.memtable({"person_id": ["a"], "event": ["Home"], "message_id": ["1"],
    ...     "timestamp": [datetime(2024, 1, 1)], "properties": ["{}"]})
    >>> ev = ev.mutate(properties=ev.properties.cast("json"),
    ...     timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> report = evaluate_recommendations(ev, as_of=datetime(2024, 2, 1, tzinfo=UTC))
    >>> [w.code for w in report.warnings]
    ['NO_TEST_PERSONS']
    """
    as_of = check_as_of(as_of)
    if not isinstance(test_period, timedelta) or test_period <= timedelta(0):
        raise ValidationError(
            "evaluate_recommendations: test_period must be a positive timedelta",
            received=test_period,
            allowed="e.g. timedelta(days=30)",
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValidationError(
            "evaluate_recommendations: k must be >= 1", received=k, allowed=">= 1"
        )
    weights = dict(EVENT_WEIGHTS if weights is None else weights)
    split = as_of - test_period
    train = interactions(events, as_of=split, weights=weights)
    test = interactions(events, as_of=as_of, since=split, weights=weights)
    bought = train[train.purchased].groupby("person_id").product_id.agg(set)
    test = test[test.person_id.isin(set(train.person_id))]
    # A product bought before the split can never be recommended: it is not "relevant" either.
    old = [p in bought.get(w, ()) for w, p in zip(test.person_id, test.product_id, strict=True)]
    relevant = test[~np.asarray(old, dtype=bool)].groupby("person_id").product_id.agg(set)
    if not len(relevant):
        warning = AnalysisWarning(
            "NO_TEST_PERSONS",
            "No person with product events before the split engaged with a new product after "
            "it; nothing to score.",
        )
        empty = {m: [] for m in _METRICS}
        curves = {"item_item": empty, "popularity": dict(empty)}
        return RecommendationReport(k, split, as_of, 0, curves, (warning,))
    persons = list(relevant.index)
    curves = {}
    for name, fitted in (
        ("item_item", (model if model is not None else ItemItemRecommender()).fit(train)),
        ("popularity", PopularityRecommender().fit(train)),
    ):
        recs = fitted.recommend(train, persons, k=k, exclude_purchased=True)
        values = ranking_metrics(recs, relevant, k)
        curves[name] = {m: [float(x) for x in values[m]] for m in _METRICS}
    return RecommendationReport(k, split, as_of, len(persons), curves)
