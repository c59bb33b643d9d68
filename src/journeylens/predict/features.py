"""Per-person features as of a cut-off, built in the engine, point-in-time correct.

:func:`person_features` turns a ``ws.events()`` table into one row per person who has any event
strictly before ``as_of``. Nothing at or after ``as_of`` is read, so the same function builds
the training rows at a past cut-off and the scoring rows today, and adding or changing later
events never changes a row.

**Activity** is a behaviour event (``track``, ``page``, ``screen``) that is not in
``FeatureSpec.passive_events``: sends and deliveries (the brand acting, not the person; an ESP
keeps delivering after a customer has gone) and refunds (processed server-side). Counts cover
the ``lookback`` window before ``as_of``; recency and tenure look at the whole history before it.

Features (``feature_names(spec)`` lists them in order; nulls are "not defined", e.g. no order):

- ``days_since_last_activity``, ``days_since_last_order`` (null when none), ``tenure_days``
  (since the first event of any kind);
- ``events``, ``events_recent`` (activity in ``lookback`` / in the last ``recent``),
  ``recent_share`` = ``events_recent / events`` (null when ``events`` is 0), ``active_days``
  (distinct UTC days with activity in ``lookback``);
- ``orders``, ``revenue`` (sum of ``revenue`` of the ``conversion`` events), ``avg_order_value``
  (``revenue / orders``, null without orders), ``refunds`` (``refund_event`` count);
- ``sessions``, ``sessions_recent``, ``sessions_per_day`` (``sessions`` over the days the person
  was observed: tenure capped at ``lookback``, at least 1), ``avg_session_minutes``,
  ``max_session_minutes`` (a session is a ``session_id`` of activity events; its length is last
  minus first activity event),
  ``cart_abandonments`` (sessions with a ``cart_event`` and no ``conversion``);
- ``channel_<slug>_events`` per ``channels`` entry and ``stage_<stage>_events`` per journey
  stage: activity events in ``lookback`` by ``channel`` / ``stage`` (slug: lower case, runs of
  other characters become ``_``: ``Mobile Push Notifications`` → ``mobile_push_notifications``);
- per messaging channel ``m`` of ``messaging``: ``m_delivered``, ``m_opened`` (only where the
  channel has an open event), ``m_clicked``, and the rates ``m_open_rate`` / ``m_click_rate``
  (opens / clicks per delivery, null without deliveries); ``messages_since_last_activity``
  (deliveries on any channel after the person's last activity, all of them if none);
- ``hour_night_share``, ``hour_morning_share``, ``hour_afternoon_share``, ``hour_evening_share``:
  share of activity in ``lookback`` at UTC hours 0–5, 6–11, 12–17, 18–23 (denominator
  ``events``; null when 0);
- ``feedback_count``, ``feedback_avg_score``, ``feedback_min_score``: events named in
  ``feedback_events`` in ``lookback`` and the mean / minimum of their numeric
  ``feedback_score_property`` (null without a numeric score). No text is read.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final

import ibis
import ibis.expr.types as ir
from pydantic import Field

from journeylens.analysis.attribution_journeys import NOT_TOUCHES
from journeylens.analysis.base import DurationField, Spec
from journeylens.analysis.event_match import BEHAVIOUR_TYPES
from journeylens.errors import ValidationError
from journeylens.jsontext import with_json_text
from journeylens.predict.cutoff import check_as_of
from journeylens.schema import CHANNELS, STAGES

__all__ = [
    "PASSIVE_EVENTS",
    "FeatureSpec",
    "MessagingChannel",
    "activity",
    "check_events",
    "feature_names",
    "person_features",
    "slug",
]

#: Events the brand or a server produced, not the person: never counted as activity.
PASSIVE_EVENTS: Final[tuple[str, ...]] = (*NOT_TOUCHES, "Order Refunded")
_DAY_SECONDS: Final = 86_400.0
_REQUIRED: Final = (
    "person_id",
    "type",
    "event",
    "timestamp",
    "session_id",
    "channel",
    "stage",
    "revenue",
    "properties",
)
_HOUR_BANDS: Final = (("night", 0), ("morning", 6), ("afternoon", 12), ("evening", 18))


class MessagingChannel(Spec):
    """The event names of one messaging channel; ``opened`` is None where opens are invisible
    (an SMS is read without a trace; a push "open" is the tap, counted as ``clicked``)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    delivered: str = Field(min_length=1)
    opened: str | None = None
    clicked: str = Field(min_length=1)


_MESSAGING: Final = (
    MessagingChannel(
        name="email",
        delivered="Email Delivered",
        opened="Email Opened",
        clicked="Email Link Clicked",
    ),
    MessagingChannel(name="sms", delivered="SMS Delivered", clicked="SMS Link Clicked"),
    MessagingChannel(
        name="push", delivered="Push Notification Delivered", clicked="Push Notification Opened"
    ),
    MessagingChannel(
        name="whatsapp",
        delivered="WhatsApp Message Delivered",
        opened="WhatsApp Message Read",
        clicked="WhatsApp Link Clicked",
    ),
)


class FeatureSpec(Spec):
    """What :func:`person_features` computes; a model keeps its spec so scoring matches training.

    >>> FeatureSpec(lookback="60d").lookback.days
    60
    """

    lookback: DurationField = Field(default=timedelta(days=90))
    recent: DurationField = Field(default=timedelta(days=14))
    conversion: str = Field(default="Order Completed", min_length=1)
    cart_event: str = Field(default="Product Added", min_length=1)
    refund_event: str = Field(default="Order Refunded", min_length=1)
    passive_events: tuple[str, ...] = PASSIVE_EVENTS
    channels: tuple[str, ...] = CHANNELS
    messaging: tuple[MessagingChannel, ...] = _MESSAGING
    feedback_events: tuple[str, ...] = ("Survey Responded", "Feedback Submitted")
    feedback_score_property: str = Field(default="nps", min_length=1)


def slug(name: str) -> str:
    """A name as a column fragment.

    >>> slug("Mobile Push Notifications")
    'mobile_push_notifications'
    """
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def feature_names(spec: FeatureSpec | None = None) -> tuple[str, ...]:
    """The feature columns of :func:`person_features` (after ``person_id``), in order.

    >>> feature_names()[:3]
    ('days_since_last_activity', 'days_since_last_order', 'tenure_days')
    """
    spec = FeatureSpec() if spec is None else spec
    names = [
        "days_since_last_activity",
        "days_since_last_order",
        "tenure_days",
        "events",
        "events_recent",
        "recent_share",
        "active_days",
        "orders",
        "revenue",
        "avg_order_value",
        "refunds",
        "sessions",
        "sessions_recent",
        "sessions_per_day",
        "avg_session_minutes",
        "max_session_minutes",
        "cart_abandonments",
    ]
    names += [f"channel_{slug(c)}_events" for c in spec.channels]
    names += [f"stage_{s}_events" for s in STAGES]
    for m in spec.messaging:
        names += [f"{m.name}_delivered"] + ([f"{m.name}_opened"] if m.opened else [])
        names += [f"{m.name}_clicked"] + ([f"{m.name}_open_rate"] if m.opened else [])
        names += [f"{m.name}_click_rate"]
    names += ["messages_since_last_activity"]
    names += [f"hour_{band}_share" for band, _ in _HOUR_BANDS]
    names += ["feedback_count", "feedback_avg_score", "feedback_min_score"]
    return tuple(names)


def check_events(events: ibis.Table, *, step: str, columns: tuple[str, ...] = _REQUIRED) -> None:
    """Raise a ValidationError when ``events`` lacks one of ``columns`` (by default every
    column :func:`person_features` reads)."""
    missing = [c for c in columns if c not in events.columns]
    if missing:
        raise ValidationError(
            f"{step}: the events table lacks columns {', '.join(missing)}",
            received=sorted(events.columns),
            allowed="a ws.events() table (resolved persons, enriched channel/session/stage)",
            fix="Pass ws.events() from a workspace, not the raw events table",
        )


def activity(events: ibis.Table, spec: FeatureSpec) -> ir.BooleanValue:
    """True for the person's own behaviour: a track/page/screen event not in ``passive_events``."""
    passive = events.event.isin(spec.passive_events) if spec.passive_events else ibis.literal(False)
    return events.type.lower().isin(BEHAVIOUR_TYPES) & ~passive.fill_null(False)


def _moment(value: datetime) -> ir.TimestampScalar:
    return ibis.literal(value, type="timestamp('UTC')")


def person_features(
    events: ibis.Table, *, as_of: datetime, spec: FeatureSpec | None = None
) -> ibis.Table:
    """One row of features per person with an event before ``as_of`` (see the module docstring).

    Args:
        events: a ``ws.events()`` table.
        as_of: the cut-off (timezone-aware); events at or after it are invisible.
        spec: which features and windows (default ``FeatureSpec()``).

    Returns:
        An Ibis table: ``person_id`` then :func:`feature_names` in that order (counts int64,
        the rest float64), sorted by ``person_id``; rows with a null ``person_id`` are not
        persons and are left out.

    >>> import ibis, datetime as dt
    >>> ev = ibis.memtable({"person_id": ["a", "a"], "type": ["page", "track"],
    ...     "event": ["Home", "Order Completed"], "session_id": ["s", "s"],
    ...     "timestamp": [dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 1, 10, 30)],
    ...     "channel": ["Direct"] * 2, "stage": ["awareness", "purchase"],
    ...     "revenue": [None, 20.0], "properties": ["{}", "{}"]})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"),
    ...     properties=ev.properties.cast("json"))
    >>> row = person_features(ev, as_of=dt.datetime(2024, 1, 3, 10, tzinfo=dt.UTC)).execute()
    >>> row[["days_since_last_activity", "orders", "revenue", "avg_session_minutes"]].values
    array([[ 1.97916667,  1.        , 20.        , 30.        ]])
    """
    check_events(events, step="person_features")
    as_of = check_as_of(as_of)
    spec = FeatureSpec() if spec is None else spec
    end = _moment(as_of)
    t = events.filter(events.person_id.notnull() & (events.timestamp < end))
    t = t.mutate(
        _jl_active=activity(t, spec),
        _jl_window=t.timestamp >= _moment(as_of - spec.lookback),
        _jl_recent=t.timestamp >= _moment(as_of - spec.recent),
        _jl_age=(end.epoch_seconds() - t.timestamp.epoch_seconds()).cast("float64"),
        _jl_hour=t.timestamp.hour(),
    )
    counted = t._jl_active & t._jl_window
    is_order = counted & (t.event == spec.conversion)
    n = t.count
    aggs: dict[str, ir.Value] = {
        "days_since_last_activity": t._jl_age.min(where=t._jl_active) / _DAY_SECONDS,
        "days_since_last_order": t._jl_age.min(where=t._jl_active & (t.event == spec.conversion))
        / _DAY_SECONDS,
        "tenure_days": t._jl_age.max() / _DAY_SECONDS,
        "events": n(where=counted),
        "events_recent": n(where=t._jl_active & t._jl_recent),
        "active_days": t.timestamp.date().nunique(where=counted),
        "orders": n(where=is_order),
        "revenue": t.revenue.sum(where=is_order),
        "refunds": n(where=t._jl_window & (t.event == spec.refund_event)),
        "_jl_last_active": t.timestamp.max(where=t._jl_active),
    }
    for c in spec.channels:
        aggs[f"channel_{slug(c)}_events"] = n(where=counted & (t.channel == c))
    for s in STAGES:
        aggs[f"stage_{s}_events"] = n(where=counted & (t.stage == s))
    for m in spec.messaging:
        for kind in ("delivered", "opened", "clicked"):
            name = getattr(m, kind)
            if name is not None:
                aggs[f"{m.name}_{kind}"] = n(where=t._jl_window & (t.event == name))
    for band, first in _HOUR_BANDS:
        aggs[f"_jl_hour_{band}"] = n(where=counted & t._jl_hour.between(first, first + 5))
    people = t.group_by("person_id").aggregate(**aggs)
    rows = _derived(people, spec)
    rows = _left(
        rows, _sessions(t, spec, as_of), ("sessions", "sessions_recent", "cart_abandonments")
    )
    # A rate needs the time the person could have been active: their tenure, capped at the
    # window (and at least a day, so a newcomer's first visit is not an enormous rate).
    observed = ibis.greatest(
        ibis.least(rows.tenure_days, spec.lookback.total_seconds() / _DAY_SECONDS), 1.0
    )
    rows = rows.mutate(sessions_per_day=rows.sessions.cast("float64") / observed)
    rows = _left(rows, _unanswered(t, people, spec), ("messages_since_last_activity",))
    rows = _left(rows, _feedback(t, spec), ("feedback_count",))
    return rows.select("person_id", *feature_names(spec)).order_by("person_id")


def _ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """``numerator / denominator``, null when the denominator is 0 (a rate of nothing)."""
    return ibis.ifelse(
        denominator > 0, numerator.cast("float64") / denominator, ibis.null("float64")
    )


def _derived(people: ibis.Table, spec: FeatureSpec) -> ibis.Table:
    derived: dict[str, ir.Value] = {
        "revenue": people.revenue.fill_null(0.0).cast("float64"),
        "recent_share": _ratio(people.events_recent, people.events),
        "avg_order_value": _ratio(people.revenue.fill_null(0.0), people.orders),
    }
    for m in spec.messaging:
        delivered = people[f"{m.name}_delivered"]
        if m.opened:
            derived[f"{m.name}_open_rate"] = _ratio(people[f"{m.name}_opened"], delivered)
        derived[f"{m.name}_click_rate"] = _ratio(people[f"{m.name}_clicked"], delivered)
    for band, _ in _HOUR_BANDS:
        derived[f"hour_{band}_share"] = _ratio(people[f"_jl_hour_{band}"], people.events)
    return people.mutate(**derived)


def _sessions(t: ibis.Table, spec: FeatureSpec, as_of: datetime) -> ibis.Table:
    """Per person: sessions of activity in ``lookback``, their lengths and cart abandonments."""
    acts = t.filter(t._jl_active & t._jl_window & t.session_id.notnull())
    per = acts.group_by(["person_id", "session_id"]).aggregate(
        _jl_start=acts.timestamp.min(),
        _jl_seconds=(acts.timestamp.max().epoch_seconds() - acts.timestamp.min().epoch_seconds()),
        _jl_cart=acts.count(where=acts.event == spec.cart_event),
        _jl_order=acts.count(where=acts.event == spec.conversion),
    )
    minutes = per._jl_seconds.cast("float64") / 60.0
    return per.group_by(per.person_id.name("_jl_person")).aggregate(
        sessions=per.count(),
        sessions_recent=per.count(where=per._jl_start >= _moment(as_of - spec.recent)),
        avg_session_minutes=minutes.mean(),
        max_session_minutes=minutes.max(),
        cart_abandonments=per.count(where=(per._jl_cart > 0) & (per._jl_order == 0)),
    )


def _unanswered(t: ibis.Table, people: ibis.Table, spec: FeatureSpec) -> ibis.Table:
    """Per person: deliveries after their last activity (every delivery when they have none)."""
    names = [m.delivered for m in spec.messaging]
    sent = t.filter(t._jl_window & t.event.isin(names))
    last = people.select(_jl_person="person_id", _jl_last=people._jl_last_active)
    sent = sent.join(last, sent.person_id == last._jl_person)
    after = sent._jl_last.isnull() | (sent.timestamp > sent._jl_last)
    return sent.group_by("_jl_person").aggregate(
        messages_since_last_activity=sent.count(where=after)
    )


def _feedback(t: ibis.Table, spec: FeatureSpec) -> ibis.Table:
    """Per person: feedback events in ``lookback`` and their numeric score (text is not read)."""
    fb = t.filter(t._jl_window & t.event.isin(spec.feedback_events))
    fb = with_json_text(fb, _jl_score_text=fb.properties[spec.feedback_score_property])
    score = fb._jl_score_text.try_cast("float64")
    return fb.group_by(fb.person_id.name("_jl_person")).aggregate(
        feedback_count=fb.count(),
        feedback_avg_score=score.mean(),
        feedback_min_score=score.min(),
    )


def _left(rows: ibis.Table, part: ibis.Table, counts: tuple[str, ...]) -> ibis.Table:
    """``rows`` left-joined with a per-person ``part``; its ``counts`` are 0 for a person the
    part has no row for (no session, no delivery, no feedback)."""
    joined = rows.left_join(part, rows.person_id == part._jl_person).drop("_jl_person")
    return joined.mutate(**{c: joined[c].fill_null(0) for c in counts})
