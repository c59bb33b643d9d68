"""How good a propensity score is on held-out persons: AUC, PR-AUC, lift and calibration.

:func:`evaluate_propensity` takes observed 0/1 outcomes and scores (small arrays, one per
person) and computes, in Python, the figures a reader needs to trust or distrust a score:

- **AUC**: the chance a random positive is scored above a random negative (ties count half);
- **PR-AUC**: average precision, the area under the precision–recall curve (chance level is
  the base rate, not 0.5);
- **lift by decile**: persons sorted by score (highest first; ties by their order of arrival),
  cut into ten groups as equal as possible; a decile's lift is its positive rate over the base
  rate, so 1.0 is no better than picking at random;
- **calibration**: persons binned by score into ten equal-width bins of [0, 1]; per bin the mean
  score beside the observed positive rate (a calibrated score lies on the diagonal).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from journeylens.analysis.base import AnalysisWarning, Result

__all__ = ["PropensityReport", "evaluate_propensity"]

_DECILES = 10
_ROC_POINTS = 101  # enough to draw the curve; the JSON stays small at any population size


def _num(value: Any) -> float | None:
    """A finite float, or None for NaN / missing (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class PropensityReport(Result):
    """The evaluation of one propensity score on held-out persons (see the module docstring).

    Fields: ``target``; ``persons`` and ``positives`` evaluated, ``base_rate`` =
    positives / persons; ``auc``, ``pr_auc``, ``top_decile_lift`` (None when only one class is
    present); ``deciles`` (rows ``decile`` 1 = highest scores, ``persons``, ``positives``,
    ``rate`` = positives / persons of the decile, ``lift`` = rate / base_rate,
    ``mean_score``); ``calibration`` (rows ``bin_low``, ``bin_high``, ``persons``,
    ``mean_score``, ``observed_rate`` = positives / persons of the bin; empty bins left out);
    ``roc`` (rows ``fpr``, ``tpr``, at most 101, thinned evenly); ``importance`` (rows
    ``feature``, ``gain``, ``share`` = gain / total gain, highest first); ``details`` (how the
    split was made: cut-offs, horizon, train/validation sizes, as plain values).
    """

    target: str
    persons: int
    positives: int
    base_rate: float | None
    auc: float | None
    pr_auc: float | None
    top_decile_lift: float | None
    deciles: pd.DataFrame
    calibration: pd.DataFrame
    roc: pd.DataFrame
    importance: pd.DataFrame
    details: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[AnalysisWarning, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The lift table: one row per decile (see the class docstring)."""
        return self.deciles.copy()

    def to_dict(self) -> dict[str, Any]:
        """Every figure as JSON-ready values, with ``warnings``."""

        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [
                {k: (_num(v) if isinstance(v, float) else v) for k, v in r.items()}
                for r in frame.astype(object).to_dict("records")
            ]

        return {
            "target": self.target,
            "persons": self.persons,
            "positives": self.positives,
            "base_rate": _num(self.base_rate),
            "auc": _num(self.auc),
            "pr_auc": _num(self.pr_auc),
            "top_decile_lift": _num(self.top_decile_lift),
            "deciles": rows(self.deciles),
            "calibration": rows(self.calibration),
            "roc": rows(self.roc),
            "importance": rows(self.importance),
            "details": dict(self.details),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """ROC curve, calibration curve, lift by decile and the top features by gain."""
        fig = make_subplots(
            rows=2,
            cols=2,
            subplot_titles=(
                f"ROC (AUC {self.auc:.3f})" if self.auc is not None else "ROC",
                "Calibration",
                "Lift by decile",
                "Feature importance (gain share)",
            ),
        )
        diagonal = dict(dash="dot", color="grey")
        fig.add_scatter(x=self.roc.fpr, y=self.roc.tpr, name="ROC", row=1, col=1)
        fig.add_scatter(x=[0, 1], y=[0, 1], line=diagonal, showlegend=False, row=1, col=1)
        fig.add_scatter(
            x=self.calibration.mean_score,
            y=self.calibration.observed_rate,
            mode="lines+markers",
            name="observed rate",
            row=1,
            col=2,
        )
        fig.add_scatter(x=[0, 1], y=[0, 1], line=diagonal, showlegend=False, row=1, col=2)
        fig.add_bar(x=self.deciles.decile, y=self.deciles.lift, name="lift", row=2, col=1)
        top = self.importance.head(15).iloc[::-1]
        fig.add_bar(x=top.share, y=top.feature, orientation="h", name="gain", row=2, col=2)
        fig.update_xaxes(title_text="false positive rate", row=1, col=1)
        fig.update_yaxes(title_text="true positive rate", row=1, col=1)
        fig.update_xaxes(title_text="mean score", row=1, col=2)
        fig.update_yaxes(title_text="observed rate", row=1, col=2)
        fig.update_xaxes(title_text="decile (1 = highest scores)", row=2, col=1)
        fig.update_layout(title=f"{self.target} propensity", showlegend=False, height=700)
        return fig


def _deciles(y: np.ndarray, score: np.ndarray, base_rate: float) -> pd.DataFrame:
    order = np.argsort(-score, kind="stable")
    rows = []
    parts = np.array_split(order, min(_DECILES, len(order))) if len(order) else []
    for number, part in enumerate(parts, start=1):
        positives = int(y[part].sum())
        rate = positives / len(part)
        rows.append(
            {
                "decile": number,
                "persons": len(part),
                "positives": positives,
                "rate": rate,
                "lift": rate / base_rate if base_rate > 0 else float("nan"),
                "mean_score": float(score[part].mean()),
            }
        )
    return pd.DataFrame(
        rows, columns=["decile", "persons", "positives", "rate", "lift", "mean_score"]
    )


def _calibration(y: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    edges = np.linspace(0.0, 1.0, _DECILES + 1)
    # The last bin is closed on the right so a score of exactly 1.0 has a bin.
    index = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, _DECILES - 1)
    rows = []
    for b in np.unique(index):
        inside = index == b
        rows.append(
            {
                "bin_low": float(edges[b]),
                "bin_high": float(edges[b + 1]),
                "persons": int(inside.sum()),
                "mean_score": float(score[inside].mean()),
                "observed_rate": float(y[inside].mean()),
            }
        )
    columns = ["bin_low", "bin_high", "persons", "mean_score", "observed_rate"]
    return pd.DataFrame(rows, columns=columns)


def _roc(y: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    fpr, tpr, _ = roc_curve(y, score)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(_ROC_POINTS, len(fpr))).round().astype(int))
    return pd.DataFrame({"fpr": fpr[keep], "tpr": tpr[keep]})


def _importance(importance: Mapping[str, float] | None) -> pd.DataFrame:
    frame = pd.DataFrame(
        sorted((importance or {}).items(), key=lambda kv: (-kv[1], kv[0])),
        columns=["feature", "gain"],
    )
    total = frame.gain.sum()
    frame["share"] = frame.gain / total if total > 0 else 0.0
    return frame


def evaluate_propensity(
    y_true: Sequence[int] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    *,
    target: str,
    importance: Mapping[str, float] | None = None,
    details: Mapping[str, Any] | None = None,
) -> PropensityReport:
    """Evaluate scores against observed 0/1 outcomes of the same persons.

    Args:
        y_true: observed outcomes, 0 or 1, one per person.
        score: the predicted probability of outcome 1, same order.
        target: what is predicted (``"churn"``, ``"conversion"``), for titles.
        importance: feature → total gain of the model, if known.
        details: plain values describing how the evaluation set was made.

    Returns:
        A :class:`PropensityReport`. No persons gives an empty report with warning
        ``NO_PERSONS``; one class only gives None for AUC, PR-AUC and lift with ``ONE_CLASS``.

    >>> r = evaluate_propensity([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], target="churn")
    >>> r.auc, r.persons, r.base_rate
    (0.75, 4, 0.5)
    """
    y = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(score, dtype=np.float64)
    warnings: list[AnalysisWarning] = []
    n, positives = len(y), int(y.sum())
    base_rate = positives / n if n else None
    auc = pr_auc = lift = None
    deciles = _deciles(y, s, base_rate) if n else _deciles(y, s, 1.0)
    calibration = _calibration(y, s)
    roc = pd.DataFrame({"fpr": [], "tpr": []})
    if n == 0:
        warnings.append(
            AnalysisWarning("NO_PERSONS", "No held-out persons to evaluate; every figure is empty.")
        )
    elif positives in (0, n):
        warnings.append(
            AnalysisWarning(
                "ONE_CLASS",
                f"Every held-out person has outcome {int(positives == n)}; AUC, PR-AUC and lift "
                "are undefined.",
            )
        )
    else:
        auc = float(roc_auc_score(y, s))
        pr_auc = float(average_precision_score(y, s))
        lift = float(deciles.lift.iloc[0])
        roc = _roc(y, s)
    return PropensityReport(
        target=target,
        persons=n,
        positives=positives,
        base_rate=base_rate,
        auc=auc,
        pr_auc=pr_auc,
        top_decile_lift=lift,
        deciles=deciles,
        calibration=calibration,
        roc=roc,
        importance=_importance(importance),
        details=dict(details or {}),
        warnings=tuple(warnings),
    )
