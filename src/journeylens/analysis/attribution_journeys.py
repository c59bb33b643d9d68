"""Attribution journeys: the touchpoints before each conversion, built in the engine.

**Touchpoints.** A touchpoint is a behaviour event (``track``, ``page``, ``screen``) of a person
that carries a touch (``touch_channel`` is set by ``journeylens.enrich``: UTM tags, a click id,
an external referrer or a first-party ``context.channel``), plus the first event of every session
that carries no touch at all: a Direct visit, labelled ``direct_label``. Events that record what
the brand *sent* rather than what the person did (:data:`NOT_TOUCHES`: ``Email Delivered``,
``SMS Delivered``, bounces…) are not touchpoints by default: a delivered but unopened e-mail has
not reached the person's attention, while an open, a click or the visit it opens has. Touches
with the same label inside one session count once, at their first time (an e-mail opened, its
link clicked and the landing page it opens are one e-mail touch, as GA4 gives a session one
source). A touch is labelled by any property (``channel`` by default; ``utm_campaign``,
``utm_source``…); a touch without that property is ``"(not set)"``.

**Journeys.** Conversions are numbered per person in time order. A touch belongs to the first
conversion of its person at or after it, so it is never credited twice: the journey of a
conversion holds the person's touches after the previous conversion and at or before this one
(ties: the touch first), no older than ``lookback``. A conversion with no touch left is a
Direct conversion (one ``direct_label`` touch at the conversion's time), as GA4 credits
``(direct)`` when nothing else is known, so every conversion is counted by every model. The
touches after a person's last conversion (all of them if none), no older than ``lookback``
before the end of the data, are one non-converting journey. With ``ignore_direct`` Direct
touches are dropped from journeys that hold another touch (GA4's rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pydantic import Field

from journeylens.analysis.attribution_paths import PathCounts
from journeylens.analysis.base import Spec
from journeylens.analysis.event_match import BEHAVIOUR_TYPES, EventMatch, with_event_match
from journeylens.analysis.properties import PropertySource, with_property

__all__ = [
    "NOT_SET",
    "NOT_TOUCHES",
    "JourneyPaths",
    "TouchDefinition",
    "journey_paths",
    "journey_touches",
]

#: Message events that record a send or a delivery, not something the person noticed or did.
NOT_TOUCHES: Final[tuple[str, ...]] = (
    "Email Sent",
    "Email Delivered",
    "Email Bounced",
    "Email Marked as Spam",
    "SMS Sent",
    "SMS Delivered",
    "Push Notification Sent",
    "Push Notification Delivered",
    "Push Notification Bounced",
    "WhatsApp Message Sent",
    "WhatsApp Message Delivered",
)

#: Label of a touch that does not have the chosen property.
NOT_SET: Final = "(not set)"

_SEP: Final = "\x1f"  # joins a path's labels in the engine; never part of a readable label
_P = "_jl_at_"


class TouchDefinition(Spec):
    """What a touchpoint is labelled by, and which touch events do not count.

    ``property`` / ``source``: read as in ``analysis.properties`` (``channel`` by default;
    ``utm_campaign``, ``utm_source``, ``utm_medium`` or any property). ``exclude_events``: event
    names that never count as touches (sends and deliveries by default; ``[]`` counts them).

    >>> TouchDefinition(property="utm_campaign").exclude_events[:2]
    ('Email Sent', 'Email Delivered')
    """

    property: str = Field("channel", min_length=1)
    source: PropertySource = "event"
    exclude_events: tuple[str, ...] = NOT_TOUCHES


def journey_touches(
    events: ibis.Table,
    *,
    conversion: EventMatch,
    value: str | None,
    touch: TouchDefinition,
    lookback: timedelta,
    ignore_direct: bool = False,
    direct_label: str = "Direct",
    date_from: date | None = None,
    date_to: date | None = None,
) -> ibis.Table:
    """The touches of every journey, one row per touch (see the module text for the rules).

    ``date_to`` cuts the data at the end of that day (later events do not exist for this
    analysis, so a journey whose conversion comes later is non-converting); ``date_from`` keeps
    the conversions from that day on, while earlier conversions still end the journeys before
    them. ``value`` is an event column or property read as a number (non-numbers count 0).

    Returns:
        An Ibis table: ``person_id``; ``journey`` (int64, the conversion's number among the
        person's conversions, or one more than the last for the non-converting journey);
        ``converted`` (bool); ``conversion_ts`` (null when not converted); ``value`` (float64,
        the conversion's value, 0 when not converted or without ``value``); ``label`` (the
        touch); ``ts`` (the touch's time).

    >>> ev = ibis.memtable({"person_id": ["p", "p"], "type": ["page", "track"],
    ...     "event": ["Home", "Buy"], "message_id": ["1", "2"], "session_id": ["s", "s"],
    ...     "touch_channel": ["Email", None], "revenue": [None, 5.0],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05"], utc=True)})
    >>> t = journey_touches(ev, conversion=EventMatch(event="Buy"), value="revenue",
    ...     touch=TouchDefinition(property="touch_channel"), lookback=timedelta(days=30))
    >>> t.select("journey", "converted", "value", "label").to_pyarrow().to_pylist()
    [{'journey': 1, 'converted': True, 'value': 5.0, 'label': 'Email'}]
    """
    t = with_property(events, f"{_P}label", touch.property, touch.source)
    t = with_event_match(t, conversion, f"{_P}conv")
    amount: ir.FloatingValue = ibis.literal(0.0)
    if value is not None:
        t = with_property(t, f"{_P}value", value)
        amount = t[f"{_P}value"].try_cast("float64").fill_null(0.0)
    t = t.filter(t.type.isin(BEHAVIOUR_TYPES), t.person_id.notnull())
    if date_to is not None:
        end = _midnight(date_to + timedelta(days=1))
        t = t.filter(t.timestamp < end)
    else:
        end = events.timestamp.max()

    conv = t.filter(t[f"{_P}conv"])
    conv = conv.select(
        "person_id", ts=conv.timestamp, kind=ibis.literal(1), key=conv.message_id, value=amount
    )
    cand = t.filter(~t.event.isin(touch.exclude_events) | t.event.isnull())
    is_touch = cand.touch_channel.notnull()
    cand = cand.mutate(
        **{
            f"{_P}touch": is_touch,
            f"{_P}skey": cand.session_id.coalesce(cand.message_id),
            f"{_P}label": cand[f"{_P}label"].fill_null(NOT_SET),
        }
    )
    touched = cand.filter(cand[f"{_P}touch"])
    touched = touched.group_by(
        "person_id", skey=touched[f"{_P}skey"], label=touched[f"{_P}label"]
    ).aggregate(ts=touched.timestamp.min())
    sessions = cand.filter(cand.session_id.notnull())
    sessions = sessions.group_by("person_id", skey=sessions.session_id).aggregate(
        touches=sessions[f"{_P}touch"].cast("int64").sum(), ts=sessions.timestamp.min()
    )
    direct = sessions.filter(sessions.touches == 0).mutate(label=ibis.literal(direct_label))
    touches = touched.select("person_id", "ts", "label").union(
        direct.select("person_id", "ts", "label")
    )

    null_value = ibis.null("float64")
    stream = touches.select(
        "person_id", "ts", kind=ibis.literal(0), key=touches.label, value=null_value
    ).union(conv)
    running = ibis.window(
        group_by=stream.person_id, order_by=[stream.ts, stream.kind, stream.key], rows=(None, 0)
    )
    before = (stream.kind == 1).cast("int64").sum().over(running)
    # A conversion row's running count is its own number; a touch row's is the number of
    # conversions before it, so it belongs to the next one.
    stream = stream.mutate(journey=ibis.ifelse(stream.kind == 1, before, before + 1))

    convs = stream.filter(stream.kind == 1).select(
        "person_id", "journey", conversion_ts=stream.ts, value=stream.value
    )
    tt = stream.filter(stream.kind == 0).select("person_id", "journey", "ts", label=stream.key)
    span = ibis.interval(seconds=int(lookback.total_seconds()))
    joined = convs.left_join(
        tt,
        [
            convs.person_id == tt.person_id,
            convs.journey == tt.journey,
            tt.ts + span >= convs.conversion_ts,
        ],
    )
    converting = joined.select(
        convs.person_id,
        convs.journey,
        converted=ibis.literal(True),
        conversion_ts=convs.conversion_ts,
        value=convs.value,
        label=tt.label.coalesce(ibis.literal(direct_label)),
        ts=tt.ts.coalesce(convs.conversion_ts),
    )
    if date_from is not None:
        converting = converting.filter(converting.conversion_ts >= _midnight(date_from))
    last = convs.group_by("person_id").aggregate(n=convs.journey.max())
    open_ = tt.left_join(last, tt.person_id == last.person_id)
    open_ = open_.filter((open_.journey > open_.n.fill_null(0)) & (open_.ts + span >= end))
    waiting = open_.select(
        "person_id",
        "journey",
        converted=ibis.literal(False),
        conversion_ts=ibis.null(convs.conversion_ts.type()),
        value=ibis.literal(0.0),
        label="label",
        ts="ts",
    )
    out = converting.union(waiting)
    if ignore_direct:
        # The flag and its journey total are columns before the filter reads them: Spark
        # cannot resolve a filter that mixes a window with the columns under it.
        out = out.mutate(**{f"{_P}other": (out.label != direct_label).cast("int64")})
        journey = ibis.window(group_by=[out.person_id, out.journey])
        out = out.mutate(**{f"{_P}others": out[f"{_P}other"].sum().over(journey)})
        out = out.filter((out[f"{_P}other"] == 1) | (out[f"{_P}others"] == 0))
        out = out.drop(f"{_P}other", f"{_P}others")
    return out


@dataclass(frozen=True)
class JourneyPaths:
    """Distinct journeys pulled from the engine, with what the path statistics and the time
    decay model need.

    ``counts``: the :class:`PathCounts` the path models read (paths ordered by their text).
    ``seconds_to_conversion``: per path, the summed seconds from the first touch to the
    conversion over its converting journeys (None when the touch times are unknown).
    ``time_decay``: the time-decay credits (columns ``channel``, ``conversions``, ``value``;
    None when not asked for or unknown).
    """

    counts: PathCounts
    seconds_to_conversion: np.ndarray | None = None
    time_decay: pd.DataFrame | None = None


def journey_paths(touches: ibis.Table, half_life: timedelta | None) -> JourneyPaths | None:
    """Aggregate the journeys of :func:`journey_touches` into distinct paths and, with a
    ``half_life``, time-decay credits, in the engine and in one query.

    Time decay (Google Ads' rule): each touch of a converting journey weighs
    ``2 ** (-(conversion_ts - ts) / half_life)``, normalised so the weights of one conversion
    add up to one; a label earns its summed weights (``conversions``) and summed weight times
    conversion value (``value``).

    Returns:
        A :class:`JourneyPaths` (each path oldest touch first; touches at the same second
        ordered by label), or None when there is no journey.
    """
    ordered = ibis.struct({"ts": touches.ts, "label": touches.label}).collect()
    per = touches.group_by("person_id", "journey").aggregate(
        steps=ordered,
        converted=touches.converted.max(),
        value=touches.value.max(),
        first_ts=touches.ts.min(),
        conversion_ts=touches.conversion_ts.max(),
    )
    per = per.mutate(
        path=per.steps.sort().map(lambda s: s.label).join(_SEP),
        seconds=per.conversion_ts.epoch_seconds() - per.first_ts.epoch_seconds(),
    )
    won = per.converted.cast("float64")
    paths = per.group_by(key=per.path).aggregate(
        kind=ibis.literal("path"),
        conversions=won.sum(),
        value=(per.value * won).sum(),
        non_conversions=(1.0 - won).sum(),
        seconds=per.seconds.cast("float64").fill_null(0.0).sum(),
    )
    if half_life is not None:
        # The credits ride along the paths query, stacked with a ``kind`` column, so the
        # journeys are read once per run (a round trip costs about a second on Spark).
        paths = paths.union(_time_decay(touches, half_life))
    frame = paths.to_pandas()
    path_rows = frame[frame["kind"] == "path"].sort_values("key", ignore_index=True)
    if path_rows.empty:
        return None
    decay = frame[frame["kind"] == "decay"].sort_values("key", ignore_index=True)
    if half_life is None:
        time_decay = None
    else:
        time_decay = pd.DataFrame(
            {
                "channel": decay["key"].astype(object),
                "conversions": decay["conversions"].astype("float64"),
                "value": decay["value"].astype("float64"),
            }
        )
    counts = PathCounts(
        paths=tuple(tuple(p.split(_SEP)) for p in path_rows["key"]),
        conversions=path_rows["conversions"].to_numpy(dtype="float64"),
        value=path_rows["value"].to_numpy(dtype="float64"),
        non_conversions=path_rows["non_conversions"].to_numpy(dtype="float64"),
    )
    return JourneyPaths(counts, path_rows["seconds"].to_numpy(dtype="float64"), time_decay)


def _time_decay(touches: ibis.Table, half_life: timedelta) -> ibis.Table:
    won = touches.filter(touches.converted)
    age = (won.conversion_ts.epoch_seconds() - won.ts.epoch_seconds()).cast("float64")
    won = won.mutate(w=ibis.literal(2.0) ** (-age / half_life.total_seconds()))
    total = won.w.sum().over(ibis.window(group_by=[won.person_id, won.journey]))
    won = won.mutate(credit=won.w / total)
    return won.group_by(key=won.label).aggregate(
        kind=ibis.literal("decay"),
        conversions=won.credit.sum(),
        value=(won.credit * won.value).sum(),
        non_conversions=ibis.literal(0.0),
        seconds=ibis.literal(0.0),
    )


def _midnight(day: date) -> ir.TimestampScalar:
    return ibis.timestamp(datetime(day.year, day.month, day.day, tzinfo=UTC))
