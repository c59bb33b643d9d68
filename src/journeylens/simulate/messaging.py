"""Messages the brand sends (e-mail, SMS, push, WhatsApp) and how each person responds.

Sends go to account holders reachable on a channel, at hours spread over the local day, and
keep going after a person churns (the ESP does not know). Opens depend on two planted habits:

    P(open) = base_open[channel] * (1.6 if channel is the person's preferred one else 0.5)
              * (0.3 + 0.7 * exp(-d² / 8)),   d = hours between send time and preferred hour

and nobody opens after their churn day; with ``churn_warning_days`` set, a churner's P(open) is
also multiplied by their fading at the send (:mod:`~journeylens.simulate.precursors`). A click
opens a web visit (an app visit for push) tagged with the send's UTMs, which then converts with
the channel's planted effect. ESP events carry ``context.channel`` and are sent with the
person's user id, as ESP sources do.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.simulate import precursors
from journeylens.simulate.channels import CHANNEL_INDEX, MESSAGING, TOUCHES, draw_touch
from journeylens.simulate.columns import const, field_raw, field_str, hex_ids, json_object, pick
from journeylens.simulate.config import SimConfig
from journeylens.simulate.population import MESSAGING_CHANNELS, NEVER, Population
from journeylens.simulate.rows import Block
from journeylens.simulate.visits import APP, DAY, HOUR, WEB
from journeylens.simulate.vocab import SITE

__all__ = ["send_messages"]

#: Per channel: sends per reachable day, base open (read) rate, click rate given an open, and
#: event names for (delivered, opened, clicked); None = the channel has no such event (an SMS
#: "read" is invisible; a push open *is* the click).
_PLAN = {
    "Email": (0.15, 0.4, 0.25, ("Email Delivered", "Email Opened", "Email Link Clicked")),
    "SMS": (0.05, 0.6, 0.2, ("SMS Delivered", None, "SMS Link Clicked")),
    "Mobile Push Notifications": (
        0.12,
        0.3,
        1.0,
        ("Push Notification Delivered", None, "Push Notification Opened"),
    ),
    "WhatsApp": (
        0.04,
        0.6,
        0.25,
        ("WhatsApp Message Delivered", "WhatsApp Message Read", "WhatsApp Link Clicked"),
    ),
}
_SUBJECTS = {
    "weekly_newsletter": "This week at Example Shop",
    "new_arrivals": "Fresh arrivals picked for you",
    "cart_reminder": "You left something in your cart",
    "winback_offer": "We miss you - 15% off inside",
}


def _sends(cfg: SimConfig, pop: Population, reg_us: np.ndarray, c: int, rng):
    rate = _PLAN[MESSAGING_CHANNELS[c]][0]
    reg_day = np.where(reg_us == NEVER, cfg.days, np.maximum((reg_us - cfg.start_us) // DAY, 0))
    days_left = np.where(pop.reachable[:, c], np.maximum(cfg.days - reg_day, 0), 0)
    person = np.repeat(np.arange(pop.n), rng.poisson(rate * days_left))
    day = reg_day[person] + (rng.random(len(person)) * days_left[person]).astype(np.int64)
    local = rng.integers(7, 23, len(person))
    hour = (local - pop.tz_offset[person]) % 24
    start = cfg.start_us + day * DAY + hour * HOUR + rng.integers(0, HOUR, len(person))
    return person, np.maximum(start, reg_us[person] + 1)


def send_messages(
    cfg: SimConfig, pop: Population, reg_us: np.ndarray, user_at, rng: np.random.Generator
) -> tuple[list[Block], dict]:
    """Sends, opens and clicks on every messaging channel.

    ``user_at(person, timestamp_us)`` gives the user id the ESP knows at that time.

    Returns:
        (blocks, click_visits): ESP event blocks, and the click-through visits as a dict like
        :func:`journeylens.simulate.visits.self_initiated` (person, device, start_us, kind, touch).
    """
    blocks: list[Block] = []
    clicks: list[dict] = []
    churn_us = cfg.start_us + pop.active_to_day * DAY
    for c, name in enumerate(MESSAGING_CHANNELS):
        _, open_base, click_rate, events = _PLAN[name]
        person, sent = _sends(cfg, pop, reg_us, c, rng)
        n = len(person)
        touch = draw_touch(rng, np.full(n, CHANNEL_INDEX[name]))
        hour = (sent // HOUR) % 24
        gap = np.abs(hour - pop.preferred_hour[person])
        gap = np.minimum(gap, 24 - gap)
        habit = np.where(pop.preferred_channel[person] == c, 1.6, 0.5)
        p_open = open_base * habit * (0.3 + 0.7 * np.exp(-(gap**2) / 8.0))
        if cfg.churn_warning_days:
            p_open = p_open * precursors.fading(cfg, pop, person, sent)
        opened_at = sent + (60 + rng.exponential(90 * 60, n)).astype(np.int64) * 1_000_000
        opened = (rng.random(n) < p_open) & (opened_at < churn_us[person])
        clicked_at = opened_at + rng.integers(5, 120, n) * 1_000_000
        clicked = opened & (rng.random(n) < click_rate) & (clicked_at < cfg.end_us - 3 * HOUR)
        send_id = hex_ids(rng, n, 8, "snd_")
        campaign = pick([t.name or "" for t in TOUCHES], touch)
        props = [
            field_str("send_id", send_id),
            field_str("campaign_id", pc.binary_join_element_wise("cmp_", campaign, "")),
            field_str("campaign_name", campaign),
        ]
        if name == "Email":
            subject = pick([_SUBJECTS.get(t.name or "", "") for t in TOUCHES], touch)
            props += [field_str("email_id", send_id), field_str("email_subject", subject)]
        link = pc.binary_join_element_wise(SITE, pick([t.query() for t in TOUCHES], touch), "")
        user = user_at(person, sent)
        ctx = [field_str("channel", const(MESSAGING[name], n))]
        # ESPs address people by e-mail or phone and pass it along as context.traits.
        if name in ("Email", "SMS", "WhatsApp"):
            trait = "email" if name == "Email" else "phone"
            value = (pop.email if name == "Email" else pop.phone).take(pa.array(person))
            ctx.append(
                field_raw("traits", pc.binary_join_element_wise(f'{{"{trait}":"', value, '"}', ""))
            )
        context = json_object(ctx, n)
        for moment, rows, event, extra in (
            (sent, np.ones(n, dtype=bool), events[0], []),
            (opened_at, opened, events[1], []),
            (clicked_at, clicked, events[2], [field_str("link_url", link)]),
        ):
            if event is None:
                continue
            keep = pa.array(rows)
            blocks.append(
                Block(
                    person=person[rows],
                    timestamp_us=moment[rows],
                    type="track",
                    event=event,
                    source="esp",
                    context=context.filter(keep),
                    delay="server",
                    user_id=user.filter(keep),
                    properties=json_object(props + extra, n).filter(keep),
                )
            )
        own_device = pop.use_device[pop.use_offsets[person]]
        is_push = name == "Mobile Push Notifications"
        clicks.append(
            dict(
                person=person[clicked],
                device=(pop.app_device[person] if is_push else own_device)[clicked],
                start_us=clicked_at[clicked] + 2_000_000,
                kind=np.full(int(clicked.sum()), APP if is_push else WEB),
                touch=touch[clicked],
            )
        )
    return blocks, {k: np.concatenate([c[k] for c in clicks]) for k in clicks[0]}
