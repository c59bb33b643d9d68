"""Preferred channel: on which messaging channel a person answers, per action.

Channels differ in how often anybody answers (a WhatsApp message is read more often than an
e-mail is opened), so comparing a person's raw rates across channels would name the channel
with the best base rate for everyone. Instead each channel's rate is shrunk towards the
population's rate on that channel (empirical Bayes, a Beta prior worth ``prior_strength``
deliveries) and the person's preferred channel is the one where they beat the population by
the largest factor (the *lift*): the channel they, personally, respond to.

Actions: ``open`` — the first visible answer to a delivery (an e-mail open, a WhatsApp read; an
SMS link click or a push open, where no earlier answer is visible); ``click`` — a click-through
(link click; a push open, which opens the app). Answers are counted once per send
(``properties.send_id``) and never above the deliveries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import ibis
import numpy as np
import pandas as pd

from journeylens.errors import ValidationError
from journeylens.jsontext import with_json_text
from journeylens.predict.cutoff import check_as_of
from journeylens.predict.send_time import MESSAGE_EVENTS, check_prior_strength

__all__ = ["Action", "preferred_channel"]

Action = Literal["open", "click"]
_COLUMNS = ["person_id", "channel", "response_rate", "reasons"]


def _answer_events(action: str) -> dict[str, list[str]]:
    """Per channel, the event names that count as answering with ``action``."""
    if action == "click":
        return {c: [clicked] for c, (_, _, clicked) in MESSAGE_EVENTS.items()}
    return {c: [opened or clicked] for c, (_, opened, clicked) in MESSAGE_EVENTS.items()}


def _counts(events: ibis.Table, as_of: datetime, since: datetime | None, action: str):
    """Per person and channel: deliveries and answered sends."""
    ev = events.filter(events.person_id.notnull(), events.timestamp < as_of)
    if since is not None:
        ev = ev.filter(ev.timestamp >= since)
    answers = _answer_events(action)
    delivered = {d: c for c, (d, _, _) in MESSAGE_EVENTS.items()}
    answered = {name: c for c, names in answers.items() for name in names}
    ev = ev.filter(ev.event.isin([*delivered, *answered]))
    ev = with_json_text(ev, send_id=ev.properties["send_id"])
    channel = ibis.cases(*((ev.event == n, c) for n, c in {**delivered, **answered}.items()))
    is_delivery = ev.event.isin(list(delivered))
    key = ev.send_id.coalesce("m:" + ev.message_id)
    rows = ev.select(ev.person_id, ch=channel, delivery=is_delivery, key=key)
    out = rows.group_by(["person_id", "ch"]).agg(
        deliveries=rows.key.nunique(where=rows.delivery),
        answers=rows.key.nunique(where=~rows.delivery),
    )
    return out.to_pandas()


def preferred_channel(
    events: ibis.Table,
    *,
    as_of: datetime,
    action: Action = "open",
    prior_strength: float = 10.0,
    lookback: timedelta | None = None,
) -> pd.DataFrame:
    """Per person, the messaging channel they answer best relative to everyone else.

    Args:
        events: a ``ws.events()``-shaped table.
        as_of: cut-off (tz-aware); events at or after it are invisible.
        action: ``open`` or ``click`` (see the module docstring).
        prior_strength: deliveries the population rate is worth in each person's estimate.
        lookback: only read events in ``[as_of - lookback, as_of)`` (default: all before).

    Returns:
        DataFrame, one row per person with at least one delivery: ``person_id``; ``channel``
        (a ``journeylens.schema.CHANNELS`` messaging channel name); ``response_rate`` (the
        shrunk rate on that channel: (answers + m * population rate) / (deliveries + m); the
        population rate's denominator is all deliveries on the channel); ``reasons`` (per
        channel delivered, best first: ``{"channel", "deliveries", "answers", "rate", "lift"}``
        with ``lift`` = rate / population rate).

    >>> ev = ibis.memtable({"person_id": ["a", "a", "b"], "message_id": ["1", "2", "3"],
    ...     "event": ["Email Delivered", "Email Opened", "Email Delivered"],
    ...     "timestamp": [datetime(2024, 1, 1)] * 3, "properties": ['{"send_id": "s1"}',
    ...     '{"send_id": "s1"}', '{"send_id": "s2"}']})
    >>> ev = ev.mutate(properties=ev.properties.cast("json"),
    ...     timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> from datetime import UTC
    >>> preferred_channel(ev, as_of=datetime(2024, 2, 1, tzinfo=UTC))[["person_id", "channel"]]
      person_id channel
    0         a   Email
    1         b   Email
    """
    as_of = check_as_of(as_of)
    if action not in ("open", "click"):
        raise ValidationError(
            "preferred_channel: unknown action", received=action, allowed="'open' or 'click'"
        )
    check_prior_strength(
        prior_strength, step="preferred_channel", worth="deliveries the population rate"
    )
    since = None if lookback is None else as_of - lookback
    counts = _counts(events, as_of, since, action)
    counts = counts[counts.deliveries > 0].copy()
    if not len(counts):
        return pd.DataFrame({c: [] for c in _COLUMNS})
    # An answer without a visible delivery (e.g. the delivery fell before the lookback) is
    # still an answer, but a rate above 1 would be no rate.
    counts["answers"] = np.minimum(counts.answers, counts.deliveries)
    totals = counts.groupby("ch")[["answers", "deliveries"]].sum()
    population = (totals.answers / totals.deliveries).rename("population")
    counts = counts.join(population, on="ch")
    m = float(prior_strength)
    counts["rate"] = (counts.answers + m * counts.population) / (counts.deliveries + m)
    # A channel nobody answers has lift 1 for all: it never wins over a channel with answers.
    counts["lift"] = np.where(counts.population > 0, counts.rate / counts.population, 1.0)
    counts = counts.sort_values(
        ["person_id", "lift", "deliveries", "ch"], ascending=[True, False, False, True]
    )
    reasons = counts.groupby("person_id", sort=False).apply(
        lambda g: [
            {
                "channel": c,
                "deliveries": int(d),
                "answers": int(a),
                "rate": round(float(r), 4),
                "lift": round(float(lift), 3),
            }
            for c, d, a, r, lift in zip(g.ch, g.deliveries, g.answers, g.rate, g.lift, strict=True)
        ],
        include_groups=False,
    )
    best = counts.drop_duplicates("person_id").set_index("person_id")
    return pd.DataFrame(
        {
            "person_id": best.index.to_numpy(dtype=object),
            "channel": best.ch.to_numpy(dtype=object),
            "response_rate": best.rate.to_numpy(float),
            "reasons": reasons.reindex(best.index).to_list(),
        }
    )
