"""All of enrichment in one call: channels, sessions, stages, and the channel of every event."""

from __future__ import annotations

import ibis

from journeylens.enrich._tables import JSON_COLUMN, STRING, TIMESTAMP, require_columns
from journeylens.enrich.channels import classify_channels
from journeylens.enrich.sessions import split_sessions
from journeylens.enrich.stages import assign_stages
from journeylens.settings import EnrichSettings

__all__ = ["enrich"]

_REQUIRED = {
    "message_id": STRING,
    "type": STRING,
    "event": STRING,
    "timestamp": TIMESTAMP,
    "context": JSON_COLUMN,
    "properties": JSON_COLUMN,
    "person_id": STRING,
}


def enrich(events: ibis.Table, settings: EnrichSettings | None = None) -> ibis.Table:
    """Add channel, session and stage to canonical events with ``person_id`` attached.

    The ``channel`` of an event is its own touch channel when it is a touch; otherwise the
    channel of the first touch of its session, in (``timestamp``, ``message_id``) order, since a
    session's channel is how it was acquired (GA4); a session without any touch is ``Direct``.

    Args:
        events: Canonical events (``schema.EVENTS_SCHEMA``) plus ``person_id``.
        settings: Session timeout, stage rules and own domains; ``EnrichSettings()`` if None.

    Returns:
        ``events`` plus the columns of ``classify_channels`` (``utm_source``, ``utm_medium``,
        ``utm_campaign``, ``default_channel_group``, ``touch_channel``), of ``split_sessions``
        (``session_id``, ``session_index``), of ``assign_stages`` (``stage``), and ``channel``
        (string, never null, one of ``schema.CHANNELS``).

    >>> import ibis, pandas as pd
    >>> ev = ibis.memtable({
    ...     "message_id": ["a", "b"], "type": ["page", "track"],
    ...     "event": ["Home", "Order Completed"], "person_id": ["p1", "p1"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05"], utc=True),
    ...     "context": ['{"page": {"url": "https://shop.example.com/?gclid=Cj0"}}', "{}"],
    ...     "properties": ["{}", "{}"]})
    >>> out = enrich(ev).order_by("message_id").select("touch_channel", "channel", "stage")
    >>> out.to_pyarrow().to_pylist()  # doctest: +NORMALIZE_WHITESPACE
    [{'touch_channel': 'Paid Search', 'channel': 'Paid Search', 'stage': 'awareness'},
     {'touch_channel': None, 'channel': 'Paid Search', 'stage': 'purchase'}]
    """
    settings = settings or EnrichSettings()
    require_columns(events, _REQUIRED, step="enrich")
    t = classify_channels(events, own_domains=settings.own_domains)
    t = split_sessions(t, settings.session_timeout_delta)
    t = assign_stages(t, settings.stage_rules)
    seen_col = "_jl_pl_touches_so_far"
    in_order = ibis.window(
        group_by=t.session_id, order_by=[t.timestamp, t.message_id], rows=(None, 0)
    )
    t = t.mutate(**{seen_col: t.touch_channel.count().over(in_order)})
    # Only the session's first touch has seen exactly one touch, itself, and carries a channel;
    # max() over the session then picks it without relying on first()'s null handling, which
    # differs between DuckDB and Spark.
    is_first = (t[seen_col] == 1) & t.touch_channel.notnull()
    first_touch = (
        ibis.ifelse(is_first, t.touch_channel, ibis.null("string"))
        .max()
        .over(ibis.window(group_by=t.session_id))
    )
    session_channel = ibis.ifelse(t.session_id.isnull(), ibis.null("string"), first_touch)
    channel = ibis.coalesce(t.touch_channel, session_channel, ibis.literal("Direct"))
    return t.mutate(channel=channel).drop(seen_col)
