"""Best send time: the hour of day each person most likely engages, shrunk to the population.

Evidence per person is a count per UTC hour of their engagement moments before ``as_of``:

- the start of each of their sessions, from their own events (message deliveries and
  responses are left out: a delivery is the sender's moment);
- each message they responded to (opened, read or clicked), counted once per send at the hour
  it was *sent*, found through ``properties.send_id`` — the question is when to send, and a
  response arrives some time after the send (the response's own hour when the send is unknown).

Hours are circular (23 h is next to 0 h), and a habit scatters over neighbouring hours, so each
count is spread 1/2 on its hour and 1/4 on each neighbour. Sparse histories are then blended
with the population (empirical-Bayes shrinkage, a Dirichlet prior): the posterior share of hour
``h`` is ``(smoothed_count[h] + m * prior[h]) / (events_used + m)`` with ``m`` the
``prior_strength``. The population profile is built in *local* time (persons live in different
time zones) and moved to each person's zone, so a person with no history gets the crowd's
favourite local hour. The time zone is the latest ``context.timezone`` the person sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import numpy as np
import pandas as pd

from journeylens.errors import ValidationError
from journeylens.jsontext import with_json_text
from journeylens.predict.cutoff import check_as_of

__all__ = ["MESSAGE_EVENTS", "best_send_time", "check_prior_strength"]

#: Per messaging channel (``journeylens.schema.CHANNELS`` name): the event names of a
#: delivery, of its first visible response ("open"; None when a read is invisible, as for SMS,
#: or when opening *is* the click, as for push) and of a click-through.
MESSAGE_EVENTS: Mapping[str, tuple[str, str | None, str]] = MappingProxyType(
    {
        "Email": ("Email Delivered", "Email Opened", "Email Link Clicked"),
        "SMS": ("SMS Delivered", None, "SMS Link Clicked"),
        "Mobile Push Notifications": (
            "Push Notification Delivered",
            None,
            "Push Notification Opened",
        ),
        "WhatsApp": (
            "WhatsApp Message Delivered",
            "WhatsApp Message Read",
            "WhatsApp Link Clicked",
        ),
    }
)
_KERNEL = (0.25, 0.5, 0.25)  # share kept by the hour before, the hour, the hour after
_COLUMNS = ["person_id", "hour_utc", "local_hour", "timezone", "confidence", "events_used"]


def check_prior_strength(value: float, *, step: str, worth: str) -> None:
    """Refuse a prior strength that is not a positive finite number (``worth``: what one unit
    of it stands for, said in the error)."""
    if isinstance(value, bool) or not (isinstance(value, int | float) and 0 < value < np.inf):
        raise ValidationError(
            f"{step}: prior_strength must be a positive number",
            received=value,
            allowed=f"a number > 0 ({worth} is worth)",
        )


def _responses() -> list[str]:
    return [
        name
        for _, opened, clicked in MESSAGE_EVENTS.values()
        for name in (opened, clicked)
        if name is not None
    ]


def _engagement_hours(events: ibis.Table, since: datetime | None, as_of: datetime):
    """Per person and UTC hour: how many engagement moments (see the module docstring)."""
    ev = events.filter(events.person_id.notnull(), events.timestamp < as_of)
    if since is not None:
        ev = ev.filter(ev.timestamp >= since)
    delivered = [d for d, _, _ in MESSAGE_EVENTS.values()]
    # Message events join sessions too, but a delivery is the sender's moment, not the person's.
    own = ev.filter(ev.session_id.notnull(), ~ev.event.isin([*delivered, *_responses()]))
    sessions = own.group_by(["person_id", "session_id"]).agg(moment=own.timestamp.min())
    sessions = sessions.select("person_id", "moment")
    messages = ev.filter(ev.event.isin([*delivered, *_responses()]))
    messages = with_json_text(messages, send_id=messages.properties["send_id"])
    sends = messages.filter(messages.event.isin(delivered), messages.send_id.notnull())
    sends = sends.group_by("send_id").agg(sent=sends.timestamp.min())
    answered = messages.filter(messages.event.isin(_responses()))
    # One moment per answered send (an open then a click is one answer), keyed by the send id,
    # or by the event itself when the send id is missing.
    answered = answered.mutate(key=answered.send_id.coalesce("m:" + answered.message_id))
    answered = answered.group_by(["person_id", "key"]).agg(at=answered.timestamp.min())
    joined = answered.left_join(sends, answered.key == sends.send_id)
    answers = joined.select("person_id", moment=joined.sent.coalesce(joined.at))
    moments = sessions.union(answers)
    counted = moments.group_by(["person_id", moments.moment.hour().name("hour")])
    return counted.agg(n=moments.count())


def _latest_timezones(events: ibis.Table, as_of: datetime) -> ibis.Table:
    ev = events.filter(events.person_id.notnull(), events.timestamp < as_of)
    ev = with_json_text(ev, tz=ev.context["timezone"])
    ev = ev.filter(ev.tz.notnull())
    return ev.group_by("person_id").agg(timezone=ev.tz.argmax(ev.timestamp))


def _offsets(zones: pd.Series, as_of: datetime) -> np.ndarray:
    """Whole hours east of UTC at ``as_of`` per zone name (NaN when unknown)."""
    cache: dict[str, float] = {}
    for zone in zones.dropna().unique():
        try:
            offset = as_of.astimezone(ZoneInfo(zone)).utcoffset()
        except (ZoneInfoNotFoundError, ValueError):
            offset = None
        cache[zone] = np.nan if offset is None else offset / timedelta(hours=1)
    return zones.map(cache).to_numpy(dtype=float)


def _smoothed(counts: np.ndarray) -> np.ndarray:
    before, here, after = _KERNEL
    return before * np.roll(counts, 1, axis=1) + here * counts + after * np.roll(counts, -1, axis=1)


def _shifted(rows: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Row ``i`` rotated right by ``shift[i]`` hours (column ``h`` moves to ``h + shift``)."""
    columns = (np.arange(24)[None, :] - shift[:, None]) % 24
    return np.take_along_axis(rows, columns, axis=1)


def best_send_time(
    events: ibis.Table,
    *,
    as_of: datetime,
    prior_strength: float = 3.0,
    lookback: timedelta | None = None,
) -> pd.DataFrame:
    """The hour each person most likely engages, for every person with an event before ``as_of``.

    Args:
        events: a ``ws.events()``-shaped table.
        as_of: cut-off (tz-aware); events at or after it are invisible.
        prior_strength: ``m``, how many engagement moments the population profile is worth.
        lookback: only read events in ``[as_of - lookback, as_of)`` (default: all before).

    Returns:
        DataFrame, one row per person: ``person_id``; ``hour_utc`` (0–23, the posterior's
        most likely hour); ``local_hour`` (that hour in ``timezone`` at ``as_of``, null when
        the zone is unknown); ``timezone`` (latest ``context.timezone``, null if never sent);
        ``confidence`` (posterior share of engagement within one hour of ``hour_utc``: its
        denominator is all posterior mass, 1); ``events_used`` (engagement moments read);
        ``reasons`` (list of ``{"feature", "value"}``: ``events_at_hour`` (smoothed moments at
        and around the hour), ``events_used``, ``population_weight`` (m / (events_used + m))).
        Empty when no person has an event before ``as_of``.

    >>> from datetime import UTC
    >>> ev = ibis.memtable({"person_id": ["a"], "event": ["Home"], "message_id": ["1"],
    ...     "session_id": ["s"], "timestamp": [datetime(2024, 1, 1, 20, 30)],
    ...     "properties": ["{}"], "context": ['{"timezone": "Asia/Seoul"}']})
    >>> ev = ev.mutate(properties=ev.properties.cast("json"), context=ev.context.cast("json"),
    ...     timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> best_send_time(ev, as_of=datetime(2024, 2, 1, tzinfo=UTC))[["hour_utc", "local_hour"]]
       hour_utc  local_hour
    0        20           5
    """
    as_of = check_as_of(as_of)
    check_prior_strength(
        prior_strength, step="best_send_time", worth="engagement moments the population profile"
    )
    since = None if lookback is None else as_of - lookback
    visible = events.filter(events.person_id.notnull(), events.timestamp < as_of)
    if since is not None:
        visible = visible.filter(visible.timestamp >= since)
    persons = visible.select("person_id").distinct().to_pandas().person_id
    if not len(persons):
        return pd.DataFrame({c: [] for c in [*_COLUMNS, "reasons"]})
    persons = pd.Index(persons.sort_values(ignore_index=True))
    hours = _engagement_hours(events, since, as_of).to_pandas()
    zones = _latest_timezones(visible, as_of).to_pandas().set_index("person_id").timezone
    counts = np.zeros((len(persons), 24))
    np.add.at(
        counts,
        (persons.get_indexer(hours.person_id), hours.hour.to_numpy(int)),
        hours.n.to_numpy(float),
    )
    timezone = zones.reindex(persons)
    offset = _offsets(timezone, as_of)
    shift = np.where(np.isnan(offset), 0, np.rint(offset)).astype(int)
    smooth = _smoothed(counts)
    # The population profile in local time: each person's counts moved by their offset.
    local = _shifted(smooth, shift).sum(axis=0)
    prior_local = local / local.sum() if local.sum() else np.full(24, 1 / 24)
    prior = _shifted(np.broadcast_to(prior_local, smooth.shape), -shift)
    used = counts.sum(axis=1)
    posterior = (smooth + prior_strength * prior) / (used + prior_strength)[:, None]
    best = posterior.argmax(axis=1)
    near = (best[:, None] + np.array([-1, 0, 1])[None, :]) % 24
    rows = np.arange(len(persons))[:, None]
    confidence = posterior[rows, near].sum(axis=1)
    local_hour = pd.array(
        np.where(np.isnan(offset), -1, np.floor(best + np.nan_to_num(offset)) % 24), dtype="Int64"
    )
    local_hour[np.isnan(offset)] = pd.NA
    at_hour = smooth[rows, near].sum(axis=1)
    weight = prior_strength / (used + prior_strength)
    return pd.DataFrame(
        {
            "person_id": persons.to_numpy(dtype=object),
            "hour_utc": best.astype("int64"),
            "local_hour": local_hour,
            "timezone": timezone.astype(object).where(timezone.notna(), None).to_numpy(),
            "confidence": confidence,
            "events_used": used.astype("int64"),
            "reasons": [
                [
                    {"feature": "events_at_hour", "value": round(float(a), 2)},
                    {"feature": "events_used", "value": int(u)},
                    {"feature": "population_weight", "value": round(float(w), 3)},
                ]
                for a, u, w in zip(at_hour, used, weight, strict=True)
            ],
        }
    )
