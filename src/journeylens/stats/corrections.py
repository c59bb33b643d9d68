"""Multiple-comparison correction: adjusted p-values across variants and metrics.

- Holm (1979): controls the family-wise error rate (any false positive) at alpha, uniformly
  more powerful than Bonferroni. Sorted ascending, p₍ᵢ₎ becomes max over j ≤ i of
  min(1, (m − j + 1)·p₍ⱼ₎).
- Benjamini–Hochberg (1995): controls the false discovery rate (the expected share of false
  positives among the significant) at alpha for independent or positively dependent tests.
  Sorted ascending, p₍ᵢ₎ becomes min over j ≥ i of min(1, m·p₍ⱼ₎ ÷ j).

An adjusted p-value below alpha is significant after correction. NaN p-values (degenerate
comparisons) are left NaN and do not count towards m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from journeylens.errors import ValidationError

__all__ = ["Correction", "adjust_p_values", "benjamini_hochberg", "holm"]

Correction = Literal["holm", "benjamini_hochberg", "none"]


def _checked(p_values: Sequence[float]) -> list[float]:
    values = [float(p) for p in p_values]
    if any(not (0 <= p <= 1) for p in values if not math.isnan(p)):
        raise ValidationError("p-values must lie in [0, 1]", received=list(p_values))
    return values


def _ranked(p_values: Sequence[float]) -> tuple[list[float], list[int]]:
    """The checked values and the positions of the non-NaN ones, smallest p first."""
    values = _checked(p_values)
    order = sorted((i for i, p in enumerate(values) if not math.isnan(p)), key=values.__getitem__)
    return values, order


def holm(p_values: Sequence[float]) -> tuple[float, ...]:
    """Holm's step-down adjusted p-values, in the input's order.

    Returns:
        One adjusted p-value per input (NaN stays NaN).

    >>> holm([0.01, 0.04, 0.03, 0.005])
    (0.03, 0.06, 0.06, 0.02)
    """
    values, order = _ranked(p_values)
    m, running = len(order), 0.0
    adjusted = list(values)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * values[i]))
        adjusted[i] = round(running, 15)
    return tuple(adjusted)


def benjamini_hochberg(p_values: Sequence[float]) -> tuple[float, ...]:
    """Benjamini–Hochberg step-up adjusted p-values (q-values), in the input's order.

    Returns:
        One adjusted p-value per input (NaN stays NaN).

    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    (0.02, 0.04, 0.04, 0.02)
    """
    values, order = _ranked(p_values)
    m, running = len(order), 1.0
    adjusted = list(values)
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, m * values[i] / (rank + 1))
        adjusted[i] = round(running, 15)
    return tuple(adjusted)


def adjust_p_values(p_values: Sequence[float], method: Correction) -> tuple[float, ...]:
    """Adjust with ``method``: ``holm``, ``benjamini_hochberg`` or ``none`` (unchanged).

    Returns:
        One adjusted p-value per input, in the input's order.

    >>> adjust_p_values([0.2, 0.01], "none")
    (0.2, 0.01)
    """
    if method == "holm":
        return holm(p_values)
    if method == "benjamini_hochberg":
        return benjamini_hochberg(p_values)
    if method == "none":
        return tuple(_checked(p_values))
    raise ValidationError(
        "Unknown correction", received=method, allowed="holm, benjamini_hochberg, none"
    )
