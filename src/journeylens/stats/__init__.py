"""Experiment statistics on sufficient statistics: the engine sums, this package infers.

Pure numpy/scipy (layer 2). ``Proportion``, ``Mean``, ``Ratio`` and ``CupedMean`` hold one arm's
sums; ``compare`` gives the Bayesian, frequentist or sequential comparison of two arms;
``srm`` checks the sample ratio; ``holm`` / ``benjamini_hochberg`` correct for many
comparisons.
"""

from journeylens.stats.compare import Comparison, GaussianPrior, Method, compare
from journeylens.stats.corrections import (
    Correction,
    adjust_p_values,
    benjamini_hochberg,
    holm,
)
from journeylens.stats.srm import SrmResult, srm
from journeylens.stats.statistics import CupedMean, Mean, Proportion, Ratio, Statistic

__all__ = [
    "Comparison",
    "Correction",
    "CupedMean",
    "GaussianPrior",
    "Mean",
    "Method",
    "Proportion",
    "Ratio",
    "SrmResult",
    "Statistic",
    "adjust_p_values",
    "benjamini_hochberg",
    "compare",
    "holm",
    "srm",
]
