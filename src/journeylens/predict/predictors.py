"""Every predictive model by name: how it is trained, how it scores, which score it stores.

``journeylens train`` and ``journeylens predict`` (and the API) read this table. Models with a
fitted state (churn, conversion, lifetime value) are trained once and saved with their card
(:mod:`~journeylens.predict.persistence`); the others (recommendations, send time, preferred
channel) are computed from the events at scoring time, so they are always as fresh as the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import pandas as pd

from journeylens.errors import UnknownNameError
from journeylens.predict.bgnbd import BetaGeo
from journeylens.predict.channel_preference import preferred_channel
from journeylens.predict.clv import clv_summary, predict_clv
from journeylens.predict.clv_report import clv_report
from journeylens.predict.features import feature_names
from journeylens.predict.gamma_gamma import GammaGamma
from journeylens.predict.propensity import score_propensity, train_propensity
from journeylens.predict.recommend import recommend
from journeylens.predict.send_time import best_send_time

__all__ = ["PREDICTORS", "Predictor", "Trained", "get_predictor"]


@dataclass(frozen=True)
class Trained:
    """What training returns: the fitted model, the features it reads, its settings and the
    evaluation figures (JSON values) that go on its card."""

    model: Any
    features: tuple[str, ...]
    settings: dict[str, Any]
    metrics: dict[str, Any]


@dataclass(frozen=True)
class Predictor:
    """One predictive model.

    Attributes:
        name: Its name on the command line and in the predictions table.
        title: What it predicts, in words.
        train: ``(events, as_of) -> Trained``, or None for a model computed at scoring time.
        score: ``(model or None, events, as_of) -> DataFrame`` with ``person_id`` first.
        score_col, label_col, rank_col: the frame's columns that become the predictions
            table's ``score``, ``label`` and ``rank`` (None: that column stays empty).
    """

    name: str
    title: str
    train: Callable[[ibis.Table, datetime], Trained] | None
    score: Callable[[Any, ibis.Table, datetime], pd.DataFrame]
    score_col: str | None
    label_col: str | None = None
    rank_col: str | None = None


def _propensity(target: str) -> Callable[[ibis.Table, datetime], Trained]:
    def train(events: ibis.Table, as_of: datetime) -> Trained:
        model, report = train_propensity(events, target=target, as_of=as_of)
        summary = report.to_dict()
        metrics = {k: summary[k] for k in ("auc", "pr_auc", "top_decile_lift") if k in summary}
        settings = {"horizon": str(model.horizon_), "active_within": str(model.active_within_)}
        return Trained(model, feature_names(model.feature_spec_), settings, metrics)

    return train


def _score_propensity(model: Any, events: ibis.Table, as_of: datetime) -> pd.DataFrame:
    return score_propensity(model, events, as_of=as_of)


def _train_clv(events: ibis.Table, as_of: datetime) -> Trained:
    summary = clv_summary(events, as_of=as_of)
    beta_geo = BetaGeo().fit(summary["frequency"], summary["recency"], summary["T"])
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    gamma_gamma = GammaGamma().fit(repeat["frequency"], repeat["monetary_value"])
    # The holdout check refits on the history before the last 90 days and compares its
    # expected purchases in those days with what happened.
    check = clv_report(events, as_of=as_of).to_dict()
    metrics = {
        "beta_geo": beta_geo.params_,
        "gamma_gamma": gamma_gamma.params_,
        "holdout_actual_purchases": check.get("actual_total"),
        "holdout_expected_purchases": check.get("expected_total"),
    }
    features = ("frequency", "recency", "T", "monetary_value")
    return Trained((beta_geo, gamma_gamma), features, {"unit": "D"}, metrics)


def _score_clv(model: Any, events: ibis.Table, as_of: datetime) -> pd.DataFrame:
    beta_geo, gamma_gamma = model
    return predict_clv(events, as_of=as_of, beta_geo=beta_geo, gamma_gamma=gamma_gamma)


PREDICTORS: dict[str, Predictor] = {
    p.name: p
    for p in (
        Predictor(
            "churn",
            "Probability of no activity in the next 30 days",
            _propensity("churn"),
            _score_propensity,
            "score",
        ),
        Predictor(
            "conversion",
            "Probability of an order in the next 30 days",
            _propensity("conversion"),
            _score_propensity,
            "score",
        ),
        Predictor(
            "clv",
            "Customer lifetime value (BG/NBD + Gamma-Gamma), 90-day horizon",
            _train_clv,
            _score_clv,
            "clv",
        ),
        Predictor(
            "recommendations",
            "The next 10 products for each person (item-item)",
            None,
            lambda _, events, as_of: recommend(events, as_of=as_of, k=10),
            "score",
            label_col="product_id",
            rank_col="rank",
        ),
        Predictor(
            "send_time",
            "The hour each person most likely engages",
            None,
            lambda _, events, as_of: best_send_time(events, as_of=as_of),
            "confidence",
            label_col="hour_utc",
        ),
        Predictor(
            "channel",
            "The messaging channel each person answers best",
            None,
            lambda _, events, as_of: preferred_channel(events, as_of=as_of),
            "response_rate",
            label_col="channel",
        ),
    )
}


def get_predictor(name: str) -> Predictor:
    """The predictor called ``name``; an unknown name says which exist."""
    if name not in PREDICTORS:
        raise UnknownNameError("model", name, PREDICTORS)
    return PREDICTORS[name]
