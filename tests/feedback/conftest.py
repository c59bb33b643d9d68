"""Feedback tests build their tiny event tables the way the analysis tests do."""

from tests.analysis.conftest import make_events, make_spark_events

__all__ = ["make_events", "make_spark_events"]
