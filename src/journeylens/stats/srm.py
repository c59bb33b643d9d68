"""Sample-ratio mismatch: do the arms hold the share of units the design promised?

A mismatch (a chi-squared goodness-of-fit p-value below ``threshold``, 0.001 by default as in
Fabijan et al. 2019, "Diagnosing Sample Ratio Mismatch") means assignment or exposure logging
is broken, and the comparison between arms cannot be trusted whatever its p-value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as sps

from journeylens.errors import ValidationError

__all__ = ["SrmResult", "srm"]


@dataclass(frozen=True)
class SrmResult:
    """The sample-ratio check.

    Attributes:
        observed: units per arm, as given.
        expected: units per arm the weights promise: total × weight ÷ Σ weights.
        statistic: Pearson's chi-squared Σ (observed − expected)² ÷ expected.
        p_value: its upper tail with (arms − 1) degrees of freedom; 1.0 without units.
        threshold: the p-value below which the check fails.
        mismatch: p_value < threshold.
    """

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    statistic: float
    p_value: float
    threshold: float
    mismatch: bool

    def to_dict(self) -> dict[str, Any]:
        """Every attribute as JSON values."""
        return {
            "observed": list(self.observed),
            "expected": list(self.expected),
            "statistic": self.statistic,
            "p_value": self.p_value,
            "threshold": self.threshold,
            "mismatch": self.mismatch,
        }


def srm(
    counts: Sequence[int], weights: Sequence[float] | None = None, *, threshold: float = 0.001
) -> SrmResult:
    """Check ``counts`` (units per arm) against ``weights`` (equal when None).

    Returns:
        An :class:`SrmResult` (see its attributes).

    >>> r = srm([5000, 5200], [0.5, 0.5])
    >>> round(r.statistic, 4), round(r.p_value, 4), r.mismatch
    (3.9216, 0.0477, False)
    """
    observed = tuple(counts)
    if len(observed) < 2:
        raise ValidationError("An SRM check needs at least two arms", received=list(observed))
    if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in observed):
        raise ValidationError("Counts must be whole numbers ≥ 0", received=list(observed))
    shares = tuple(weights) if weights is not None else (1.0,) * len(observed)
    if len(shares) != len(observed):
        raise ValidationError(
            "Give one weight per arm",
            received={"counts": len(observed), "weights": len(shares)},
        )
    if any(not (isinstance(w, int | float) and math.isfinite(w) and w > 0) for w in shares):
        raise ValidationError("Weights must be finite numbers > 0", received=list(shares))
    if not 0 < threshold < 1:
        raise ValidationError("`threshold` must be between 0 and 1", received=threshold)
    total, weight = sum(observed), float(sum(shares))
    expected = tuple(total * w / weight for w in shares)
    if total == 0:
        return SrmResult(observed, expected, 0.0, 1.0, threshold, False)
    statistic = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    p_value = float(sps.chi2.sf(statistic, len(observed) - 1))
    return SrmResult(observed, expected, statistic, p_value, threshold, p_value < threshold)
