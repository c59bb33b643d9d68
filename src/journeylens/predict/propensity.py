"""Churn and conversion propensity: a calibrated LightGBM model on point-in-time features.

**Time-based split, and why no label looks past ``as_of``.** ``train_propensity`` builds two
snapshots from the same code (:func:`~journeylens.predict.features.person_features` and
:func:`~journeylens.predict.labels.outcome_labels`), with ``h`` the horizon::

    as_of - 2h ─── features ───┤ training labels ├─ as_of - h ─┤ validation labels ├─ as_of
                 (train cut-off)                 (validation cut-off)

- **training**: features at ``as_of - 2h`` (events before it only), labels from
  ``[as_of - 2h, as_of - h)``;
- **validation**: features at ``as_of - h``, labels from ``[as_of - h, as_of)``.

Every label window ends at or before ``as_of``, so nothing at or after ``as_of`` is read; the
gradient-boosted trees never see the validation period's outcomes, and the validation persons
are scored on a later period than the one the trees learnt from — the held-out evaluation is a
forecast, as in production. The validation snapshot then does two jobs: it calibrates the
scores (isotonic regression of the outcome on the trees' probability; the trees alone are
over-confident on rare outcomes) and it is evaluated. So that the reported calibration curve is
not judged on the data it was fitted to, the report's scores are cross-fitted: the validation
persons are split in two halves, each half calibrated by a fit on the other. The model's own
calibrator is then fitted on all validation persons.

Scoring (:func:`score_propensity`) builds features at the scoring ``as_of`` with the model's
``feature_spec_`` and scores the same population it was trained on: persons active in the
``active_within_`` window before ``as_of``. Reasons are LightGBM's per-row contributions
(``pred_contrib``, SHAP values of the trees, in log-odds of the outcome before calibration;
calibration is monotone, so a feature that raises the raw score raises the calibrated one).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import numpy as np
import pandas as pd

from journeylens.durations import Duration, parse_duration
from journeylens.errors import ValidationError
from journeylens.predict.cutoff import check_as_of
from journeylens.predict.evaluation import PropensityReport, evaluate_propensity
from journeylens.predict.features import (
    FeatureSpec,
    check_events,
    feature_names,
    person_features,
)
from journeylens.predict.labels import Target, outcome_labels
from journeylens.predict.propensity_model import (
    Calibration,
    PropensityModel,
    calibrated,
    fit_calibrator,
)

__all__ = [
    "predictive_segment",
    "score_propensity",
    "train_propensity",
]


def _snapshot(
    events: ibis.Table,
    *,
    target: Target,
    cutoff: datetime,
    horizon: timedelta,
    active_within: timedelta,
    spec: FeatureSpec,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features at ``cutoff`` of the persons eligible there, and their labels."""
    labels = outcome_labels(
        events,
        target=target,
        cutoff=cutoff,
        horizon=horizon,
        active_within=active_within,
        spec=spec,
    )
    features = person_features(events, as_of=cutoff, spec=spec)
    rows = features.join(labels, "person_id").order_by("person_id").execute()
    return rows[["person_id", *feature_names(spec)]], rows["label"].to_numpy(dtype=np.int64)


def _halves_calibrated(raw: np.ndarray, y: np.ndarray, method: Calibration) -> np.ndarray:
    """Calibrated scores where each half of the persons is calibrated by a fit on the other."""
    half = np.arange(len(raw)) % 2 == 0
    out = raw.copy()
    for fit_rows in (half, ~half):
        calibrator = fit_calibrator(raw[fit_rows], y[fit_rows], method)
        out[~fit_rows] = calibrated(calibrator, raw[~fit_rows])
    return out


def train_propensity(
    events: ibis.Table,
    *,
    target: Target,
    as_of: datetime,
    horizon: Duration = "30d",
    active_within: Duration | None = None,
    spec: FeatureSpec | None = None,
    model: PropensityModel | None = None,
) -> tuple[PropensityModel, PropensityReport]:
    """Train a churn or conversion model on history before ``as_of`` and evaluate it.

    The split is the module docstring's: trees learn from features at ``as_of - 2*horizon``
    with outcomes up to ``as_of - horizon``; calibration and evaluation use features at
    ``as_of - horizon`` with outcomes up to ``as_of``. No event at or after ``as_of`` is read.

    Args:
        events: a ``ws.events()`` table.
        target: ``"churn"`` (no activity in the horizon) or ``"conversion"`` (an order in it).
        as_of: timezone-aware end of the usable history.
        horizon: how far ahead the outcome is predicted.
        active_within: who is eligible (activity this recently before a cut-off); default the
            horizon.
        spec: the features (default ``FeatureSpec()``).
        model: an unfitted :class:`PropensityModel` with the settings to use (default ones).

    Returns:
        ``(model, report)``: the fitted model (with ``feature_spec_``, ``target_``,
        ``horizon_``, ``active_within_``, ``as_of_``) and a
        :class:`~journeylens.predict.evaluation.PropensityReport` on the validation persons
        (positive rate over the persons eligible at the validation cut-off).
    """
    check_events(events, step="train_propensity")
    as_of = check_as_of(as_of)
    h = parse_duration(horizon, field="horizon")
    within = parse_duration(active_within, field="active_within") if active_within else h
    model = PropensityModel() if model is None else model
    spec = FeatureSpec() if spec is None else spec
    common = dict(target=target, horizon=h, active_within=within, spec=spec)
    train_x, train_y = _snapshot(events, cutoff=as_of - 2 * h, **common)
    valid_x, valid_y = _snapshot(events, cutoff=as_of - h, **common)
    for name, y in (("training", train_y), ("validation", valid_y)):
        if len(np.unique(y)) < 2:
            raise ValidationError(
                f"Not enough history to train a {target} model: the {name} snapshot has "
                f"{len(y)} eligible persons and only outcome {sorted(set(y.tolist()))}",
                received=f"as_of={as_of.isoformat()}, horizon={h}",
                allowed="history reaching back at least 2 × horizon + active_within before "
                "as_of, with both outcomes occurring in each horizon",
                fix="Move as_of later, shorten the horizon, or ingest more history",
            )
    names = list(feature_names(spec))
    model.fit(train_x[names], train_y, calibration_X=valid_x[names], calibration_y=valid_y)
    model.feature_spec_ = spec
    model.target_ = target
    model.horizon_ = h
    model.active_within_ = within
    model.as_of_ = as_of
    raw = model._raw(model._matrix(valid_x[names]))
    report = evaluate_propensity(
        valid_y,
        _halves_calibrated(raw, valid_y, model.calibration),
        target=target,
        importance=model.feature_importances_,
        details={
            "as_of": as_of.isoformat(),
            "train_cutoff": (as_of - 2 * h).isoformat(),
            "validation_cutoff": (as_of - h).isoformat(),
            "horizon_days": h.total_seconds() / 86_400,
            "active_within_days": within.total_seconds() / 86_400,
            "train_persons": len(train_y),
            "train_positive_rate": float(train_y.mean()),
            "calibration": model.calibration,
            "scores": "validation persons, calibrated by the other half (cross-fitted)",
        },
    )
    return model, report


def score_propensity(
    model: PropensityModel, events: ibis.Table, *, as_of: datetime, top_reasons: int = 3
) -> pd.DataFrame:
    """Score every person active in the model's ``active_within_`` window before ``as_of``.

    Args:
        model: a model returned by :func:`train_propensity`.
        events: a ``ws.events()`` table.
        as_of: timezone-aware; features are built from events before it, with the model's spec.
        top_reasons: reasons kept per person.

    Returns:
        A DataFrame sorted by ``score`` (highest first, then ``person_id``): ``person_id``;
        ``score`` (calibrated probability of the model's target in its horizon after
        ``as_of``); ``reasons`` (list of dicts ``feature``, ``value``, ``contribution``,
        ``direction``: see :meth:`PropensityModel.explain`). Empty when nobody is eligible.
    """
    if not hasattr(model, "feature_spec_"):
        raise ValidationError(
            "score_propensity needs a model trained by train_propensity",
            received=type(model).__name__,
            allowed="the model returned by train_propensity (it knows its feature spec)",
            fix="Train with train_propensity(events, target=..., as_of=...)",
        )
    check_events(events, step="score_propensity")
    as_of = check_as_of(as_of)
    features = person_features(events, as_of=as_of, spec=model.feature_spec_)
    days = model.active_within_.total_seconds() / 86_400
    features = features.filter(features.days_since_last_activity <= days)
    rows = features.execute()
    if rows.empty:
        return pd.DataFrame({"person_id": [], "score": [], "reasons": []}).astype(
            {"person_id": "object", "score": "float64", "reasons": "object"}
        )
    x = rows[list(model.feature_names_in_)]
    out = pd.DataFrame(
        {
            "person_id": rows["person_id"].to_numpy(dtype=object),
            "score": model.predict_proba(x)[:, 1],
            "reasons": model.explain(x, top_reasons),
        }
    )
    return out.sort_values(["score", "person_id"], ascending=[False, True], ignore_index=True)


def predictive_segment(
    scores: pd.DataFrame, *, threshold: float | None = None, top_percent: float | None = None
) -> list[str]:
    """The persons "likely to churn" / "likely to buy": by score threshold or top percent.

    Args:
        scores: a :func:`score_propensity` frame (``person_id``, ``score``).
        threshold: keep persons with ``score >= threshold`` (0–1), or
        top_percent: keep the ``ceil(n * top_percent / 100)`` highest scores (0–100], ties
            broken by ``person_id``. Exactly one of the two.

    Returns:
        The chosen ``person_id`` values, highest score first.

    >>> s = pd.DataFrame({"person_id": ["a", "b", "c"], "score": [0.9, 0.2, 0.6]})
    >>> predictive_segment(s, threshold=0.5), predictive_segment(s, top_percent=34)
    (['a', 'c'], ['a', 'c'])
    """
    if (threshold is None) == (top_percent is None):
        raise ValidationError(
            "predictive_segment needs exactly one of threshold and top_percent",
            received={"threshold": threshold, "top_percent": top_percent},
            allowed="threshold=0.7 (a probability) or top_percent=10 (a share of persons)",
        )
    missing = {"person_id", "score"} - set(scores.columns)
    if missing:
        raise ValidationError(
            "The scores lack columns",
            received=sorted(scores.columns),
            allowed="a score_propensity frame with person_id and score",
        )
    ranked = scores.sort_values(["score", "person_id"], ascending=[False, True])
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0:
            raise ValidationError(
                "threshold is a probability", received=threshold, allowed="a number in [0, 1]"
            )
        return ranked.loc[ranked.score >= threshold, "person_id"].tolist()
    if not 0.0 < top_percent <= 100.0:
        raise ValidationError(
            "top_percent is a share of persons", received=top_percent, allowed="(0, 100]"
        )
    count = int(np.ceil(len(ranked) * top_percent / 100.0 - 1e-9))
    return ranked.head(count).person_id.tolist()
