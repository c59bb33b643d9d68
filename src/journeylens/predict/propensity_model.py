"""The propensity estimator: LightGBM trees, a calibrator, and per-row reasons.

:class:`PropensityModel` follows the scikit-learn contract. The trees are fitted on one snapshot
and the calibrator (isotonic or sigmoid) on another when one is given (``calibration_X``), else on
out-of-fold scores; reasons are LightGBM's per-row contributions (``pred_contrib``: SHAP values of
the trees in log-odds before calibration, which is monotone, so a feature that raises the raw
score raises the calibrated one). :mod:`~journeylens.predict.propensity` trains it on events.
"""

from __future__ import annotations

from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from journeylens.errors import ValidationError

__all__ = ["Calibration", "PropensityModel", "calibrated", "fit_calibrator"]


Calibration = Literal["isotonic", "sigmoid", "none"]


def fit_calibrator(raw: np.ndarray, y: np.ndarray, method: Calibration) -> Any:
    """A monotone map from the trees' probability to an observed rate (None for "none")."""
    if method == "none" or len(np.unique(y)) < 2:
        return None
    if method == "isotonic":
        return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
    return LogisticRegression().fit(_logit(raw)[:, None], y)


def calibrated(calibrator: Any, raw: np.ndarray) -> np.ndarray:
    if calibrator is None:
        return raw
    if isinstance(calibrator, IsotonicRegression):
        return calibrator.predict(raw)
    return calibrator.predict_proba(_logit(raw)[:, None])[:, 1]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _binary(y: Any, *, name: str) -> np.ndarray:
    values = np.asarray(y)
    if values.ndim != 1 or not np.isin(values, (0, 1)).all():
        raise ValidationError(
            f"{name} must be a 1-D sequence of 0/1 outcomes",
            received=np.unique(values)[:10].tolist() if values.size else values.tolist(),
            allowed="0 (no outcome) and 1 (outcome), one per row",
        )
    return values.astype(np.int64)


class PropensityModel(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees (LightGBM) with a calibrated probability and per-row reasons.

    Parameters are LightGBM's (``n_estimators``, ``learning_rate``, ``num_leaves``,
    ``min_child_samples``, ``reg_lambda``), the ``calibration`` method, ``random_state`` and
    ``n_jobs`` (threads). Training is deterministic for a given ``random_state`` and
    ``n_jobs``: LightGBM runs with ``deterministic=True`` and row-wise histograms.

    Learned attributes: ``estimator_`` (the ``lightgbm.LGBMClassifier``), ``calibrator_``
    (isotonic or logistic map, None when not calibrated), ``feature_names_in_``,
    ``n_features_in_``, ``classes_`` (``[0, 1]``). :func:`train_propensity` also sets
    ``feature_spec_``, ``target_``, ``horizon_``, ``active_within_`` and ``as_of_`` (the cut-off
    it trained at) so that scoring rebuilds the same features.

    >>> X = pd.DataFrame({"recency": [1.0, 2, 30, 40] * 10, "orders": [3, 2, 0, 0] * 10})
    >>> m = PropensityModel(n_estimators=5, min_child_samples=2).fit(X, [0, 0, 1, 1] * 10)
    >>> m.predict_proba(X.head(2))[:, 1].round(2).tolist()
    [0.0, 0.0]
    """

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        reg_lambda: float = 1.0,
        calibration: Calibration = "isotonic",
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.calibration = calibration
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _trees(self) -> lgb.LGBMClassifier:
        return lgb.LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            reg_lambda=self.reg_lambda,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )

    def _matrix(self, x: Any, *, fitting: bool = False) -> pd.DataFrame:
        """``x`` as a float frame with the training columns, in training order."""
        if not isinstance(x, pd.DataFrame):
            raise ValidationError(
                "PropensityModel needs a pandas DataFrame of features",
                received=type(x).__name__,
                allowed="a DataFrame with one named column per feature",
                fix="Build it with person_features(...).to_pandas()",
            )
        if not fitting:
            expected = list(self.feature_names_in_)
            if list(x.columns) != expected:
                missing = sorted(set(expected) - set(x.columns))
                extra = sorted(set(x.columns) - set(expected))
                raise ValidationError(
                    "The features do not match the ones the model was trained on",
                    received=f"missing {missing[:10]}, unexpected {extra[:10]}",
                    allowed=f"the {len(expected)} training columns in training order",
                    fix="Build features with the model's feature_spec_ (score_propensity does)",
                )
        bad = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
        if bad:
            raise ValidationError(
                "Every feature must be numeric",
                received=bad[:10],
                allowed="integer, float or boolean columns (nulls allowed)",
            )
        values = x.to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.DataFrame(values, columns=[str(c) for c in x.columns], index=x.index)

    def _raw(self, x: pd.DataFrame) -> np.ndarray:
        return self.estimator_.predict_proba(x)[:, 1]

    def fit(
        self,
        X: pd.DataFrame,  # noqa: N803 (scikit-learn's name)
        y: Any,
        *,
        calibration_X: pd.DataFrame | None = None,  # noqa: N803
        calibration_y: Any = None,
    ) -> PropensityModel:
        """Fit the trees on ``X, y`` and the calibrator on a later, held-out snapshot.

        Args:
            X: features, one row per person, numeric columns (nulls allowed).
            y: 0/1 outcomes; both must occur.
            calibration_X, calibration_y: the snapshot to calibrate on (in
                :func:`train_propensity`, the validation cut-off). Without it the calibrator is
                fitted on 3-fold out-of-fold probabilities of ``X`` itself.

        Returns:
            self, fitted.
        """
        frame = self._matrix(X, fitting=True)
        target = _binary(y, name="y")
        if len(target) != len(frame) or len(np.unique(target)) < 2:
            raise ValidationError(
                "Training needs one outcome per row and both outcomes present",
                received=f"{len(frame)} rows, outcomes {sorted(set(target.tolist()))}",
                allowed="as many 0/1 outcomes as rows, with at least one 0 and one 1",
                fix="Use a longer history or a longer horizon so that both outcomes occur",
            )
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.classes_ = np.array([0, 1])
        self.estimator_ = self._trees().fit(frame, target)
        if calibration_X is not None:
            held = self._matrix(calibration_X)
            outcome = _binary(calibration_y, name="calibration_y")
            raw = self._raw(held)
        else:
            raw, outcome = self._out_of_fold(frame, target), target
        self.calibrator_ = fit_calibrator(raw, outcome, self.calibration)
        return self

    def _out_of_fold(self, frame: pd.DataFrame, target: np.ndarray) -> np.ndarray:
        raw = np.zeros(len(frame))
        folds = StratifiedKFold(3, shuffle=True, random_state=self.random_state)
        for fit_rows, held_rows in folds.split(frame, target):
            trees = self._trees().fit(frame.iloc[fit_rows], target[fit_rows])
            raw[held_rows] = trees.predict_proba(frame.iloc[held_rows])[:, 1]
        return raw

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Calibrated probabilities: an ``(n, 2)`` array, column 1 = P(outcome)."""
        check_is_fitted(self, "estimator_")
        p = calibrated(self.calibrator_, self._raw(self._matrix(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """1 where the calibrated probability is at least 0.5, else 0."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    @property
    def feature_importances_(self) -> dict[str, float]:
        """Total split gain per feature (what the trees learnt most from)."""
        check_is_fitted(self, "estimator_")
        gain = self.estimator_.booster_.feature_importance(importance_type="gain")
        return {str(f): float(g) for f, g in zip(self.feature_names_in_, gain, strict=True)}

    def explain(self, X: pd.DataFrame, top: int = 3) -> list[list[dict[str, Any]]]:  # noqa: N803
        """The ``top`` features that moved each row's score most, largest effect first.

        Returns:
            One list per row of dicts: ``feature``; ``value`` (the row's value, None when
            missing); ``contribution`` (its SHAP value in log-odds of the outcome, rounded to
            4 places; the contributions of all features plus the average add up to the row's
            raw score); ``direction`` (``"raises"`` or ``"lowers"`` the probability). Features
            with no effect are left out.
        """
        check_is_fitted(self, "estimator_")
        frame = self._matrix(X)
        if frame.empty:
            return []
        contrib = self.estimator_.booster_.predict(frame, pred_contrib=True)[:, :-1]
        k = max(0, min(int(top), contrib.shape[1]))
        order = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :k]
        values = frame.to_numpy()
        names = self.feature_names_in_
        out = []
        for row, columns in enumerate(order):
            reasons = []
            for c in columns:
                effect = float(contrib[row, c])
                if effect == 0.0:
                    continue
                value = values[row, c]
                reasons.append(
                    {
                        "feature": str(names[c]),
                        "value": None if np.isnan(value) else _plain(value),
                        "contribution": round(effect, 4),
                        "direction": "raises" if effect > 0 else "lowers",
                    }
                )
            out.append(reasons)
        return out


def _plain(value: float) -> int | float:
    """An integral float as int (``3`` orders, not ``3.0``), else rounded to 4 places."""
    return int(value) if float(value).is_integer() else round(float(value), 4)
