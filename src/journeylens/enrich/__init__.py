"""Enrichment: the channel of every touch, sessions, and the journey stage of every event.

Pure functions over Ibis tables; each compiles to one query that DuckDB and Spark run alike.

- ``classify_channels`` derives source / medium / campaign (UTMs, click ids, referrers), GA4's
  default channel group and journeylens' touch channel (email, SMS, push, WhatsApp, store …).
- ``split_sessions`` splits each person's events at gaps longer than a timeout.
- ``assign_stages`` names the journey stage of each event from ordered rules.
- ``enrich`` does all three and gives every event a ``channel``.
"""

from journeylens.enrich.channels import classify_channels
from journeylens.enrich.pipeline import enrich
from journeylens.enrich.sessions import split_sessions
from journeylens.enrich.stages import assign_stages

__all__ = ["assign_stages", "classify_channels", "enrich", "split_sessions"]
