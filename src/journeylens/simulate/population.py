"""The simulated persons of one cohort: who they are, their devices, habits and planted traps.

A person has one to three devices of their own (the first is always a web browser), may hold an
account (user id, e-mail, maybe a phone), and carries the hidden habits the analyses must find:
a preferred hour of day, a preferred messaging channel, a base propensity to buy, and possibly
a churn day. The identity traps are planted here too: borrowed devices (a family tablet, a few
in-store kiosks), e-mail addresses registered by the wrong person, and buggy clients that send
junk identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.simulate import vocab
from journeylens.simulate.channels import MESSAGING
from journeylens.simulate.columns import choose, hex_ids, pick, uuid_ids
from journeylens.simulate.config import COHORT_SIZE, SimConfig

__all__ = [
    "DEVICE_KINDS",
    "JUNK_USER_IDS",
    "LOCALES",
    "MESSAGING_CHANNELS",
    "Population",
    "make_population",
]

LOCALES = ("en-US", "ko-KR")
#: Device kinds; 0 and 1 are web browsers (page calls), 2 and 3 are apps (screen calls).
DEVICE_KINDS = ("desktop", "mobile_web", "ios", "android")
JUNK_USER_IDS = ("undefined", "null", "0", "anonymous")
MESSAGING_CHANNELS = tuple(MESSAGING)  # Email, SMS, Mobile Push Notifications, WhatsApp
NEVER = np.iinfo(np.int64).max  # "no such time" for registration/migration instants


@dataclass(frozen=True)
class Population:
    """Per-person and per-device arrays of one cohort (person rows are cohort-local 0..n-1)."""

    n: int
    key: np.ndarray  # global person_key
    locale: np.ndarray  # index into LOCALES
    timezone: pa.Array  # IANA name
    tz_offset: np.ndarray  # hours east of UTC
    first_name: pa.Array
    last_name: pa.Array
    email: pa.Array  # canonical lower-case address (null if never registered)
    phone: pa.Array  # E.164 (null if no phone given)
    phone_forms: tuple[pa.Array, ...]  # the same numbers written in varied formats
    registered: np.ndarray  # holds or creates an account in the window
    pre_registered: np.ndarray  # account existed before the window
    user_id: pa.Array
    legacy_id: pa.Array  # old user id replaced by user_id at migrate_us (alias)
    migrate_us: np.ndarray  # when the legacy id was replaced; 0 = never had one
    alias_anonymous: np.ndarray  # new registrant who also sends alias(anonymous id → user id)
    rate: np.ndarray  # self-initiated visits per active day
    base_conversion: np.ndarray  # chance a Direct visit ends in an order
    active_from_day: np.ndarray
    active_to_day: np.ndarray  # exclusive; the churn day for churners, else days
    churned: np.ndarray
    preferred_hour: np.ndarray  # UTC hour of day 0-23
    preferred_channel: np.ndarray  # index into MESSAGING_CHANNELS, -1 when unreachable
    reachable: np.ndarray  # bool matrix person x MESSAGING_CHANNELS
    company: np.ndarray  # index into company arrays, -1
    company_id: pa.Array
    company_traits: pa.Array  # group traits JSON per company
    typo_of: np.ndarray  # person whose e-mail this person first registers with, -1
    dev_owner: np.ndarray
    dev_kind: np.ndarray
    dev_anon: pa.Array
    dev_id: pa.Array  # context.device.id for apps, null for browsers
    dev_junk: np.ndarray  # index into JUNK_USER_IDS sent while logged out, -1
    dev_shared: np.ndarray  # used by more than its owner
    use_offsets: np.ndarray  # CSR: person p uses use_device[use_offsets[p]:use_offsets[p+1]]
    use_device: np.ndarray
    app_device: np.ndarray  # the person's first app device, -1


def _padded(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def _names(rng: np.random.Generator, locale: np.ndarray) -> tuple[pa.Array, ...]:
    n = len(locale)
    en_first = rng.integers(0, len(vocab.FIRST_NAMES_EN), n)
    en_last = rng.integers(0, len(vocab.LAST_NAMES_EN), n)
    ko = rng.integers(0, len(vocab.NAMES_KO), (n, 2))
    ko_cols = list(zip(*vocab.NAMES_KO, strict=True))
    is_ko = locale == 1
    first = choose(is_ko, [pick(vocab.FIRST_NAMES_EN, en_first), pick(ko_cols[0], ko[:, 0])])
    last = choose(is_ko, [pick(vocab.LAST_NAMES_EN, en_last), pick(ko_cols[1], ko[:, 1])])
    first_latin = choose(is_ko, [pick(vocab.FIRST_NAMES_EN, en_first), pick(ko_cols[2], ko[:, 0])])
    last_latin = choose(is_ko, [pick(vocab.LAST_NAMES_EN, en_last), pick(ko_cols[3], ko[:, 1])])
    return first, last, first_latin, last_latin


def _emails(rng: np.random.Generator, key: np.ndarray, locale: np.ndarray, names) -> pa.Array:
    _, _, first, last = names
    n = len(key)
    number = pc.cast(pa.array(key), pa.string())
    domain = choose(
        locale,
        [
            pick(vocab.EMAIL_DOMAINS_EN, rng.integers(0, len(vocab.EMAIL_DOMAINS_EN), n)),
            pick(vocab.EMAIL_DOMAINS_KO, rng.integers(0, len(vocab.EMAIL_DOMAINS_KO), n)),
        ],
    )
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    # The person key in the local part keeps addresses unique; the shapes vary like real ones.
    forms = [
        pc.binary_join_element_wise(first, ".", last, number, "@", domain, ""),
        pc.binary_join_element_wise(first, number, "@", domain, ""),
        pc.binary_join_element_wise(initial, last, number, "@", domain, ""),
    ]
    return choose(rng.integers(0, 3, n), forms)


def _phones(rng: np.random.Generator, key: np.ndarray, locale: np.ndarray):
    """E.164 numbers (unique per person key) and five written forms of each."""
    n = len(key)
    # Multiplying by a prime coprime to the modulus is a bijection, so numbers never collide.
    us = (key * 7919 + 12345) % 8_000_000 + 2_000_000
    kr = (key * 7919 + 54321) % 90_000_000 + 10_000_000
    area = pick(vocab.AREA_CODES, rng.integers(0, len(vocab.AREA_CODES), n))
    exch, line = _padded("", us // 10_000, 3), _padded("", us % 10_000, 4)
    mid, tail = _padded("", kr // 10_000, 4), _padded("", kr % 10_000, 4)
    j = pc.binary_join_element_wise
    is_ko = locale == 1
    e164 = choose(is_ko, [j("+1", area, exch, line, ""), j("+8210", mid, tail, "")])
    forms = (
        choose(is_ko, [j("+1 ", area, "-", exch, "-", line, ""), j("+82 10-", mid, "-", tail, "")]),
        choose(is_ko, [j("(", area, ") ", exch, " ", line, ""), j("010-", mid, "-", tail, "")]),
        choose(is_ko, [j(area, exch, line, ""), j("010", mid, tail, "")]),
        e164,
        choose(is_ko, [j(area, ".", exch, ".", line, ""), j("+82 10 ", mid, " ", tail, "")]),
    )
    return e164, forms


def _companies(rng: np.random.Generator, cohort: int, n: int) -> tuple[pa.Array, pa.Array]:
    count = max(1, n // 60)
    ids = _padded("acct_", cohort * COHORT_SIZE + np.arange(count), 7)
    name = pick(vocab.COMPANIES, rng.integers(0, len(vocab.COMPANIES), count))
    industry = pick(vocab.INDUSTRIES, rng.integers(0, len(vocab.INDUSTRIES), count))
    plan = pick(vocab.PLANS, rng.integers(0, len(vocab.PLANS), count))
    employees = pc.cast(pa.array(rng.lognormal(4.0, 1.5, count).astype(np.int64) + 2), pa.string())
    traits = pc.binary_join_element_wise(
        '{"name":"',
        name,
        '","industry":"',
        industry,
        '","plan":"',
        plan,
        '","employees":',
        employees,
        "}",
        "",
    )
    return ids, traits


def _devices(rng: np.random.Generator, cfg: SimConfig, n: int, registered: np.ndarray):
    """Own devices per person, then borrowed devices (shared) and buggy clients (junk)."""
    own = rng.choice([1, 2, 3], size=n, p=[0.55, 0.30, 0.15])
    owner = np.repeat(np.arange(n), own)
    slot = np.arange(len(owner)) - np.repeat(np.cumsum(own) - own, own)
    kind = np.where(slot == 0, rng.choice([0, 1], len(owner), p=[0.6, 0.4]), 0)
    kind = np.where(slot > 0, rng.choice([0, 1, 2, 3], len(owner), p=[0.3, 0.2, 0.25, 0.25]), kind)
    first_device = np.cumsum(own) - own
    # Borrowers log in on a host's browser: one borrower per host, except the last hosts,
    # which are kiosks shared by a handful of registered persons.
    members = np.flatnonzero(registered)
    borrowers_n = min(round(cfg.shared_device_share * n), len(members) // 2)
    pairs = np.empty((0, 2), dtype=np.int64)
    if borrowers_n:
        chosen = rng.permutation(members)
        hosts_n = max(1, int(np.ceil(borrowers_n * 0.85)))
        hosts = chosen[:hosts_n]
        borrowers = chosen[hosts_n : hosts_n + borrowers_n]
        idx = np.arange(len(borrowers))
        kiosks = max(1, hosts_n // 10)
        host_pos = np.where(idx < hosts_n, idx, hosts_n - 1 - (idx - hosts_n) % kiosks)
        pairs = np.column_stack([borrowers, first_device[hosts[host_pos]]])
    shared = np.zeros(len(owner), dtype=bool)
    shared[pairs[:, 1]] = True
    # A borrowed device is listed twice, so borrowers really use it (and log in on it).
    use_person = np.concatenate([owner, pairs[:, 0], pairs[:, 0]])
    use_dev = np.concatenate([np.arange(len(owner)), pairs[:, 1], pairs[:, 1]])
    order = np.argsort(use_person, kind="stable")
    counts = np.bincount(use_person, minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    junk = np.full(len(owner), -1)
    buggy = rng.random(len(owner)) < cfg.junk_share
    junk[buggy] = rng.integers(0, len(JUNK_USER_IDS), buggy.sum())
    is_app = kind >= 2
    app_rows = np.flatnonzero(is_app)
    app_device = np.full(n, -1)
    # Reverse so that the first app device of each person is the one written last.
    app_device[owner[app_rows[::-1]]] = app_rows[::-1]
    anon = uuid_ids(rng, len(owner))
    dev_id = uuid_ids(rng, len(owner), upper=True)
    android_id = hex_ids(rng, len(owner), 8)
    dev_id = choose(kind == 3, [dev_id, android_id])
    dev_id = pc.if_else(pa.array(is_app), dev_id, pa.scalar(None, pa.string()))
    return dict(
        dev_owner=owner,
        dev_kind=kind,
        dev_anon=anon,
        dev_id=dev_id,
        dev_junk=junk,
        dev_shared=shared,
        use_offsets=offsets,
        use_device=use_dev[order],
        app_device=app_device,
    )


def _preferred_hour(rng: np.random.Generator, tz_offset: np.ndarray) -> np.ndarray:
    local = rng.choice(
        [8, 12, 15, 19, 20, 21, 22], len(tz_offset), p=[0.12, 0.18, 0.1] + [0.15] * 4
    )
    return (local + rng.integers(-1, 2, len(tz_offset)) - tz_offset) % 24


def make_population(cfg: SimConfig, cohort: int, n: int, rng: np.random.Generator) -> Population:
    """Draw the ``n`` persons of cohort number ``cohort`` (person keys ``cohort*COHORT_SIZE+i``)."""
    key = cohort * COHORT_SIZE + np.arange(n, dtype=np.int64)
    locale = (rng.random(n) < 0.25).astype(np.int64)
    tz_names, tz_offsets = [], np.empty(n, dtype=np.int64)
    tz_index = np.empty(n, dtype=np.int64)
    for loc, zones in enumerate(vocab.TIMEZONES.values()):
        rows = np.flatnonzero(locale == loc)
        drawn = rng.choice(len(zones), len(rows), p=[z[2] for z in zones])
        tz_index[rows] = len(tz_names) + drawn
        tz_offsets[rows] = np.array([z[1] for z in zones])[drawn]
        tz_names += [z[0] for z in zones]
    names = _names(rng, locale)
    registered = rng.random(n) < cfg.registered_share
    pre_registered = registered & (rng.random(n) < 0.5)
    has_phone = registered & (rng.random(n) < 0.65)
    null = pa.scalar(None, pa.string())
    email = pc.if_else(pa.array(registered), _emails(rng, key, locale, names), null)
    e164, forms = _phones(rng, key, locale)
    phone = pc.if_else(pa.array(has_phone), e164, null)
    user_id = pc.if_else(pa.array(registered), _padded("usr_", key, 8), null)
    migrated = pre_registered & (rng.random(n) < 0.05)
    legacy_id = pc.if_else(pa.array(migrated), _padded("cust-", key * 3 + 7, 9), null)
    migrate_us = np.where(migrated, cfg.start_us + rng.integers(1, cfg.end_us - cfg.start_us, n), 0)
    devices = _devices(rng, cfg, n, registered)
    # Activity: heavy-tailed rates (a few very active customers), acquisition and churn days.
    rate = np.exp(rng.normal(np.log(0.06), 1.0, n))
    acquired_before = rng.random(n) < 0.6
    active_from = np.where(acquired_before, 0, rng.integers(0, max(1, cfg.days - 1), n))
    churned = rng.random(n) < cfg.churn_share
    span = np.maximum(cfg.days - active_from, 1)
    churn_day = active_from + 1 + (rng.random(n) * (span - 1)).astype(np.int64)
    churned &= churn_day < cfg.days
    active_to = np.where(churned, churn_day, cfg.days)
    tz_offset = tz_offsets
    reachable = np.column_stack(
        [
            registered,
            has_phone,
            registered & (devices["app_device"] >= 0),
            has_phone & (rng.random(n) < 0.5),
        ]
    )
    weight = reachable * np.array([0.45, 0.2, 0.2, 0.15])
    total = weight.sum(axis=1)
    cum = np.cumsum(weight, axis=1) / np.where(total > 0, total, 1)[:, None]
    preferred = np.where(total > 0, (rng.random(n)[:, None] > cum).sum(axis=1), -1)
    company_id, company_traits = _companies(rng, cohort, n)
    company = np.where(registered & (rng.random(n) < 0.15), rng.integers(0, len(company_id), n), -1)
    # A typo'd registration borrows the address of another registered person of the cohort.
    members = np.flatnonzero(registered)
    typo_of = np.full(n, -1)
    typo_n = round(cfg.typo_email_share * len(members))
    if typo_n and len(members) > 1:
        writers = rng.choice(members, typo_n, replace=False)
        victims = rng.choice(members, typo_n)
        victims = np.where(
            victims == writers,
            members[(np.searchsorted(members, writers) + 1) % len(members)],
            victims,
        )
        typo_of[writers] = victims
    return Population(
        n=n,
        key=key,
        locale=locale,
        timezone=pick(tz_names, tz_index),
        tz_offset=tz_offset,
        first_name=names[0],
        last_name=names[1],
        email=email,
        phone=phone,
        phone_forms=forms,
        registered=registered,
        pre_registered=pre_registered,
        user_id=user_id,
        legacy_id=legacy_id,
        migrate_us=migrate_us,
        alias_anonymous=registered & ~pre_registered & (rng.random(n) < 0.25),
        rate=rate,
        base_conversion=rng.beta(2.0, 40.0, n),
        active_from_day=active_from,
        active_to_day=active_to,
        churned=churned,
        preferred_hour=_preferred_hour(rng, tz_offset),
        preferred_channel=preferred,
        reachable=reachable,
        company=company,
        company_id=company_id,
        company_traits=company_traits,
        typo_of=typo_of,
        **devices,
    )
