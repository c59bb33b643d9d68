"""Analyses: pure functions ``x(events, spec) -> XResult`` over an Ibis events table.

Each analysis registers itself in :mod:`journeylens.analysis.registry`, which the CLI, the API
and the dashboard read.
"""

from journeylens.analysis.base import AnalysisWarning, Result, Spec
from journeylens.analysis.filters import PropertyFilter
from journeylens.analysis.registry import (
    Analysis,
    analyses,
    get_analysis,
    parse_spec,
    register,
    run_analysis,
)

__all__ = [
    "Analysis",
    "AnalysisWarning",
    "PropertyFilter",
    "Result",
    "Spec",
    "analyses",
    "get_analysis",
    "parse_spec",
    "register",
    "run_analysis",
]
