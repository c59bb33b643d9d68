"""Sessions: a person's events split wherever they were inactive for longer than a timeout.

Events are ordered per person by (``timestamp``, ``message_id``); the message id breaks ties so the
order, and so every session, is the same on every engine and every run. An event starts a new
session when the gap to the person's previous event is *more* than the timeout; a gap of exactly
the timeout stays in the session (GA4 and Segment use 30 minutes of inactivity).
"""

from __future__ import annotations

from datetime import timedelta

import ibis

from journeylens.durations import Duration, parse_duration
from journeylens.enrich._tables import STRING, TIMESTAMP, require_columns
from journeylens.errors import ValidationError

__all__ = ["split_sessions"]

_P = "_jl_se_"
_EPOCH = ibis.timestamp("1970-01-01 00:00:00", timezone="UTC")


def split_sessions(events: ibis.Table, timeout: Duration) -> ibis.Table:
    """Add the session of every event.

    Args:
        events: Events with ``person_id``, ``timestamp`` and ``message_id``.
        timeout: The inactivity that ends a session (a ``timedelta`` or a string like ``"30m"``);
            at least one second.

    Returns:
        ``events`` plus:

        - ``session_id`` (string): ``<person_id>:<session start, whole epoch seconds>``, e.g.
          ``"p1:1704067200"``; stable when later events arrive, and unique per person because
          two session starts are more than the timeout (≥ 1 s) apart. Null when ``person_id`` is.
        - ``session_index`` (int64): the session's position among the person's sessions, 1 for
          the first.

    >>> import ibis, pandas as pd
    >>> ev = ibis.memtable({"person_id": ["p", "p", "p"], "message_id": ["a", "b", "c"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:30",
    ...                                  "2024-01-01 11:01"], utc=True)})
    >>> split_sessions(ev, "30m").order_by("message_id").session_index.to_list()
    [1, 1, 2]
    """
    require_columns(
        events,
        {"person_id": STRING, "timestamp": TIMESTAMP, "message_id": STRING},
        step="split_sessions",
    )
    gap = parse_duration(timeout, field="split_sessions timeout")
    if gap < timedelta(seconds=1):
        raise ValidationError(
            "split_sessions timeout must be at least one second",
            received=timeout,
            fix="Use a timeout such as '30m'",
        )
    # Whole seconds compile to an INTERVAL of seconds on every engine; finer ones to microseconds.
    micros = gap // timedelta(microseconds=1)
    interval = (
        ibis.interval(seconds=micros // 1_000_000)
        if micros % 1_000_000 == 0
        else ibis.interval(microseconds=micros)
    )
    order = [events.timestamp, events.message_id]
    by_person = ibis.window(group_by=events.person_id, order_by=order)
    previous = events.timestamp.lag().over(by_person)
    t = events.mutate(
        **{_P + "starts": previous.isnull() | (events.timestamp > previous + interval)}
    )
    starts = t[_P + "starts"]
    running = ibis.window(
        group_by=t.person_id, order_by=[t.timestamp, t.message_id], rows=(None, 0)
    )
    # Timestamps never decrease along the order, so the latest start so far is this session's.
    t = t.mutate(
        session_index=ibis.ifelse(starts, 1, 0).sum().over(running).cast("int64"),
        **{_P + "start": ibis.ifelse(starts, t.timestamp, None).max().over(running)},
    )
    # Whole seconds since the epoch, counted as a difference of instants: unlike casting to a
    # local timestamp, that does not depend on the engine's session time zone.
    epoch = t[_P + "start"].delta(_EPOCH, unit="second").cast("int64").cast("string")
    return t.mutate(session_id=t.person_id + ":" + epoch).drop(_P + "starts", _P + "start")
