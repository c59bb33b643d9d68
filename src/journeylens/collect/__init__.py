"""The outside world in: sources read in bounded chunks, validated and canonicalised."""

from journeylens.collect.report import REJECTION_CODES, IngestReport, Rejection

__all__ = ["REJECTION_CODES", "IngestReport", "Rejection"]
