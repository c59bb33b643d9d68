"""How close a resolution is to the truth: pairwise precision and recall.

Over all pairs of items, a pair is *predicted* together if both items got the same predicted
label and *truly* together if both have the same true label. Precision = pairs predicted and
truly together / pairs predicted together; recall = the same / pairs truly together. Counting
pairs from the contingency table (sum of n choose 2 over its cells, rows and columns) makes it
O(n log n) instead of O(n²).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from journeylens.errors import ValidationError

__all__ = ["pairwise_scores"]


def _pairs(counts: np.ndarray) -> int:
    counts = counts.astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def pairwise_scores(
    predicted_labels: Sequence[object] | np.ndarray, true_labels: Sequence[object] | np.ndarray
) -> tuple[float, float]:
    """Pairwise precision and recall of ``predicted_labels`` against ``true_labels``.

    Both are labels of the same items, in the same order (e.g. the ``person_id`` journeylens
    gave each anonymous id and the person ``simulate`` planted behind it).

    Returns:
        ``(precision, recall)``. precision = pairs with the same predicted and the same true
        label / pairs with the same predicted label; recall = the same numerator / pairs with
        the same true label. With no pair in a denominator (every item alone) the score is 1.0:
        nothing was claimed, so nothing was wrong or missed.

    Example:
        >>> pairwise_scores(["p1", "p1", "p2"], ["t1", "t1", "t1"])
        (1.0, 0.3333333333333333)
    """
    predicted = np.asarray(predicted_labels)
    truth = np.asarray(true_labels)
    if predicted.ndim != 1 or truth.ndim != 1 or len(predicted) != len(truth):
        raise ValidationError(
            "predicted_labels and true_labels must be flat and of the same length",
            received=f"shapes {predicted.shape} and {truth.shape}",
            fix="Pass one predicted and one true label per item, aligned",
        )
    _, p = np.unique(predicted, return_inverse=True)
    _, t = np.unique(truth, return_inverse=True)
    p = p.ravel().astype(np.int64)
    t = t.ravel().astype(np.int64)
    n_true = int(t.max(initial=-1)) + 1
    _, cells = np.unique(p * n_true + t, return_counts=True)
    together = _pairs(cells)
    predicted_pairs = _pairs(np.bincount(p))
    true_pairs = _pairs(np.bincount(t))
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    return precision, recall
