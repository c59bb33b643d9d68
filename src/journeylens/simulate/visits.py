"""Visits: every time a simulated person turns up, through which channel, and what came of it.

A visit is a web or app session, a store visit or a call-centre contact. Self-initiated web and
app visits are drawn here from each person's activity rate, inside their active window (so
churners fall silent on their churn day), concentrated around their preferred hour. Click-through
visits from messages are made by :mod:`~journeylens.simulate.messaging` and joined in
:func:`finalise_visits`, which also decides the planted outcome of every visit:

    P(order) = base_conversion[person] + channel_effect[channel] + experiment lift (if exposed)
               + assist lift (if the person came through an assisting channel shortly before)

clipped to [0.001, 0.95]. The assist lift (``SimConfig.assist_channels``, off by default) is
the sum, over assisting channels, of their lift when the person had an earlier visit through
that channel at most ``assist_days`` before this one. The visit's channel is drawn
independently of the person's base propensity, so naive conversion rates by channel differ by
the planted effects (plus noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeylens.simulate.channels import ACQUISITION, CHANNEL_INDEX, draw_touch, touch_channel
from journeylens.simulate.config import EXPERIMENTS, SimConfig
from journeylens.simulate.population import NEVER, Population
from journeylens.simulate.vocab import CATEGORIES, PRODUCTS

__all__ = ["APP", "CALL", "STORE", "WEB", "Visits", "finalise_visits", "offline", "self_initiated"]

WEB, APP, STORE, CALL = 0, 1, 2, 3
HOUR = 3_600_000_000
DAY = 24 * HOUR
#: Relative activity by local hour of day (night is quiet, evenings busy).
_DIURNAL = np.array(
    [1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 3, 3, 3, 4, 3.5, 3, 3, 3, 3.5, 4, 5, 5.5, 5, 3.5, 2]
)


def _hours(rng, pop: Population, person: np.ndarray, local_weights: np.ndarray, focus: float):
    """UTC hour per row: the person's preferred hour with probability ``focus``, else local."""
    n = len(person)
    local = rng.choice(24, n, p=local_weights / local_weights.sum())
    around = pop.preferred_hour[person] + np.rint(rng.normal(0, 0.8, n)).astype(np.int64)
    utc = (local - pop.tz_offset[person]) % 24
    return np.where(rng.random(n) < focus, around % 24, utc)


def _times(cfg: SimConfig, rng, day: np.ndarray, hour: np.ndarray) -> np.ndarray:
    start = cfg.start_us + day * DAY + hour * HOUR + rng.integers(0, HOUR, len(day))
    # Keep three hours of room so a visit's later events stay inside the window.
    return np.minimum(start, cfg.end_us - 3 * HOUR)


def _days(rng, pop: Population, person: np.ndarray, first_day: np.ndarray) -> np.ndarray:
    low, high = first_day[person], pop.active_to_day[person]
    return low + (rng.random(len(person)) * np.maximum(high - low, 0)).astype(np.int64)


def self_initiated(cfg: SimConfig, pop: Population, rng: np.random.Generator) -> dict:
    """Web and app visits a person starts on their own, on one of the devices they use.

    Returns:
        dict of arrays: person, device, start_us, kind (WEB/APP), touch (index into TOUCHES).
    """
    active_days = np.maximum(pop.active_to_day - pop.active_from_day, 0)
    count = rng.poisson(pop.rate * active_days)
    person = np.repeat(np.arange(pop.n), count)
    day = _days(rng, pop, person, pop.active_from_day)
    start = _times(cfg, rng, day, _hours(rng, pop, person, _DIURNAL, 0.6))
    uses = pop.use_offsets[person + 1] - pop.use_offsets[person]
    device = pop.use_device[pop.use_offsets[person] + (rng.random(len(person)) * uses).astype(int)]
    kind = np.where(pop.dev_kind[device] >= 2, APP, WEB)
    names, shares = zip(*ACQUISITION.items(), strict=True)
    channel = np.array([CHANNEL_INDEX[c] for c in names])[
        rng.choice(len(names), len(person), p=np.array(shares) / sum(shares))
    ]
    # App sessions are opened from the home screen: they carry no campaign, i.e. Direct.
    channel = np.where(kind == APP, CHANNEL_INDEX["Direct"], channel)
    return dict(
        person=person, device=device, start_us=start, kind=kind, touch=draw_touch(rng, channel)
    )


def registration_times(cfg: SimConfig, pop: Population, visits: dict, rng) -> np.ndarray:
    """When each person's account starts (epoch µs; ``NEVER`` for persons without one).

    Existing customers registered before the window; a new registrant signs up during their
    first web or app visit after a planned moment early in their active window, and stays
    anonymous for good if no visit comes after it.
    """
    reg = np.where(pop.pre_registered, cfg.start_us - DAY, NEVER)
    new = pop.registered & ~pop.pre_registered
    span = np.maximum(pop.active_to_day - pop.active_from_day, 1)
    planned = cfg.start_us + (pop.active_from_day + rng.random(pop.n) * span * 0.5) * DAY
    person, start = visits["person"], visits["start_us"]
    after = new[person] & (start >= planned[person].astype(np.int64))
    rows = np.flatnonzero(after)
    order = rows[np.lexsort((start[rows], person[rows]))]
    who, first = np.unique(person[order], return_index=True)
    reg[who] = start[order[first]]
    return reg


def offline(cfg: SimConfig, pop: Population, reg_us: np.ndarray, rng) -> dict:
    """Store visits (loyalty card scanned) and call-centre contacts of account holders.

    Returns:
        dict of arrays like :func:`self_initiated`, device -1, kind STORE or CALL.
    """
    reg_day = np.where(reg_us == NEVER, cfg.days, (reg_us - cfg.start_us) // DAY)
    first_day = np.clip(np.maximum(pop.active_from_day, reg_day), 0, cfg.days)
    active_days = np.maximum(pop.active_to_day - first_day, 0)
    near_store = rng.random(pop.n) < 0.4
    store_n = rng.poisson(np.where(near_store, 0.012, 0.0) * active_days)
    call_n = rng.poisson(0.004 * active_days)
    parts = []
    for kind, count, hours in ((STORE, store_n, range(10, 20)), (CALL, call_n, range(9, 18))):
        person = np.repeat(np.arange(pop.n), count)
        weights = np.zeros(24)
        weights[list(hours)] = 1
        hour = _hours(rng, pop, person, weights, 0.0)
        start = np.maximum(
            _times(cfg, rng, _days(rng, pop, person, first_day), hour), reg_us[person]
        )
        channel = CHANNEL_INDEX["Offline Store" if kind == STORE else "Call Centre"]
        parts.append(
            dict(
                person=person,
                device=np.full(len(person), -1),
                start_us=start,
                kind=np.full(len(person), kind),
                touch=draw_touch(rng, np.full(len(person), channel)),
            )
        )
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@dataclass(frozen=True)
class Visits:
    """All visits of a cohort, sorted by (person, start). Arrays are aligned by visit."""

    person: np.ndarray
    device: np.ndarray  # -1 for store and call visits
    start_us: np.ndarray
    kind: np.ndarray  # WEB, APP, STORE, CALL
    touch: np.ndarray  # index into channels.TOUCHES
    channel: np.ndarray  # index into schema.CHANNELS
    logged_in: np.ndarray  # the person's account exists at the visit (store/call: always)
    legacy: np.ndarray  # logged in with the legacy user id (before the alias migration)
    first_login: np.ndarray  # first logged-in web/app visit of this person on this device
    signs_up: np.ndarray  # the visit in which a new registrant creates the account
    arm: np.ndarray  # person x experiment: variant index, -1 if never exposed
    exposed: np.ndarray  # visit x experiment: the visit where the person first sees the test
    p_order: np.ndarray
    ordered: np.ndarray
    added: np.ndarray  # put a product in the cart (kept by every ordering web/app visit)
    cart: np.ndarray
    checkout: np.ndarray
    product: np.ndarray  # index into vocab.PRODUCTS: the product the visit is about
    favourite: np.ndarray  # per person: index into vocab.CATEGORIES, -1 without product affinity

    def __len__(self) -> int:
        return len(self.person)


def _experiments(cfg: SimConfig, pop: Population, person, start, online, rng):
    """Arms per person and exposure visits per experiment, plus each visit's total lift."""
    arms = np.full((pop.n, len(EXPERIMENTS)), -1)
    exposed = np.zeros((len(person), len(EXPERIMENTS)), dtype=bool)
    lift = np.zeros(len(person))
    for e, (_, start_share, variants) in enumerate(EXPERIMENTS):
        eligible = np.flatnonzero(online & (start >= cfg.start_us + start_share * cfg.days * DAY))
        who, first = np.unique(person[eligible], return_index=True)  # visits sorted by person
        first_visit = eligible[first]
        arms[who, e] = rng.integers(0, len(variants), len(who))
        exposed[first_visit, e] = True
        seen_at = np.full(pop.n, NEVER)
        seen_at[who] = start[first_visit]
        after = online & (start >= seen_at[person])
        lifts = np.array([v[1] for v in variants])
        lift += np.where(after, lifts[np.maximum(arms[person, e], 0)], 0.0)
    return arms, exposed, lift


def _assist_lift(cfg: SimConfig, person: np.ndarray, start: np.ndarray, channel: np.ndarray):
    """Per visit (sorted by person, start): the summed lift of the assisting channels the person
    visited through strictly before it, within ``assist_days``."""
    lift = np.zeros(len(person))
    rows = np.arange(len(person))
    for name, value in cfg.assist_channels.items():
        # Forward-fill the row of the latest visit through the channel, then look one row back
        # so a visit never assists itself; a row of another person is no assist.
        latest = np.maximum.accumulate(np.where(channel == CHANNEL_INDEX[name], rows, -1))
        before = np.r_[-1, latest[:-1]] if len(rows) else latest
        safe = np.maximum(before, 0)
        near = (before >= 0) & (person[safe] == person)
        near &= start - start[safe] <= cfg.assist_days * DAY
        lift += np.where(near, value, 0.0)
    return lift


def _affine_products(cfg: SimConfig, pop: Population, person, product, rng):
    """Per person a favourite category, and a share ``product_affinity`` of their visits moved
    to a product of it (by catalogue popularity within the category); draws nothing when off,
    so the default simulation is unchanged."""
    favourite = np.full(pop.n, -1)
    if cfg.product_affinity == 0:
        return favourite, product
    names = [c[0] for c in CATEGORIES]
    category = np.array([names.index(c) for c in PRODUCTS["category"]])
    favourite = rng.integers(0, len(names), pop.n)
    moved = rng.random(len(person)) < cfg.product_affinity
    product = product.copy()
    for c in range(len(names)):
        rows = np.flatnonzero(moved & (favourite[person] == c))
        members = np.flatnonzero(category == c)
        weight = PRODUCTS["weight"][members]
        product[rows] = rng.choice(members, len(rows), p=weight / weight.sum())
    return favourite, product


def finalise_visits(cfg: SimConfig, pop: Population, parts: list[dict], reg_us, rng) -> Visits:
    """Join visit parts, sort them, and decide logins, experiment exposure and outcomes."""
    v = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((v["start_us"], v["person"]))
    person, device, start, kind, touch = (
        v[k][order] for k in ("person", "device", "start_us", "kind", "touch")
    )
    online = kind <= APP
    logged_in = (start >= reg_us[person]) | ~online
    legacy = logged_in & (start < pop.migrate_us[person])
    # First logged-in visit per (person, device): visits are sorted by person then time, so a
    # stable sort by device keeps time order inside each (person, device) group.
    rows = np.flatnonzero(logged_in & online)
    rows = rows[np.argsort(person[rows] * (len(pop.dev_owner) + 1) + device[rows], kind="stable")]
    group = person[rows] * (len(pop.dev_owner) + 1) + device[rows]
    first_login = np.zeros(len(person), dtype=bool)
    first_login[rows[np.r_[True, group[1:] != group[:-1]]] if len(rows) else rows] = True
    signs_up = online & (start == reg_us[person]) & ~pop.pre_registered[person]
    arms, exposed, lift = _experiments(cfg, pop, person, start, online, rng)
    effects = np.zeros(len(CHANNEL_INDEX))
    for name, value in cfg.channel_effects.items():
        effects[CHANNEL_INDEX[name]] = value
    channel = touch_channel(touch)
    lift = lift + _assist_lift(cfg, person, start, channel)
    p_order = np.clip(pop.base_conversion[person] + effects[channel] + lift, 0.001, 0.95)
    ordered = rng.random(len(person)) < p_order
    # Abandonment ladder for visits that do not order: add → view cart → start checkout.
    added = ordered | (online & (rng.random(len(person)) < 0.3))
    cart = ordered | (added & online & (rng.random(len(person)) < 0.7))
    checkout = ordered | (cart & (rng.random(len(person)) < 0.5))
    product = rng.choice(len(PRODUCTS["weight"]), len(person), p=PRODUCTS["weight"])
    favourite, product = _affine_products(cfg, pop, person, product, rng)
    return Visits(
        person=person,
        device=device,
        start_us=start,
        kind=kind,
        touch=touch,
        channel=channel,
        logged_in=logged_in,
        legacy=legacy,
        first_login=first_login,
        signs_up=signs_up,
        arm=arms,
        exposed=exposed,
        p_order=p_order,
        ordered=ordered,
        added=added & online,
        cart=cart & online,
        checkout=checkout & online,
        product=product,
        favourite=favourite,
    )
