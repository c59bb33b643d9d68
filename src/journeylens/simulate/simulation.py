"""``simulate``: generate events and truth, one cohort of customers at a time.

A cohort is ``COHORT_SIZE`` customers drawn from its own seed ``(seed, cohort number)``, so the
first *n* cohorts are the same whether you ask for 10,000 or 2,000,000 customers, and
:func:`~journeylens.simulate.write_parquet` writes exactly what :func:`simulate` returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.schema import CHANNELS
from journeylens.simulate import churn_drivers, precursors
from journeylens.simulate import feedback as fb
from journeylens.simulate.config import COHORT_SIZE, EXPERIMENTS, SimConfig, make_config
from journeylens.simulate.identity import identity_calls
from journeylens.simulate.journeys import visit_events, visit_ids
from journeylens.simulate.messaging import send_messages
from journeylens.simulate.orders import after_orders, order_events
from journeylens.simulate.population import (
    LOCALES,
    MESSAGING_CHANNELS,
    NEVER,
    Population,
    make_population,
)
from journeylens.simulate.rows import assemble
from journeylens.simulate.truth import TABLES, Truth, identifiers_table
from journeylens.simulate.visits import (
    DAY,
    finalise_visits,
    offline,
    registration_times,
    self_initiated,
)
from journeylens.simulate.vocab import CATEGORIES

__all__ = ["Simulation", "generate", "simulate"]

_CAMEL = {
    "anonymous_id": "anonymousId",
    "user_id": "userId",
    "previous_id": "previousId",
    "group_id": "groupId",
}


@dataclass(frozen=True)
class Simulation:
    """Simulated events and the truth planted in them.

    Attributes:
        events: the canonical events table, exactly ``journeylens.schema.EVENTS_ARROW_SCHEMA``,
            sorted by ``timestamp`` within each cohort of 5,000 customers.
        truth: see :class:`journeylens.simulate.truth.Truth`.
    """

    events: pa.Table
    truth: Truth

    def to_messages(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The first ``limit`` events (all when None) as Segment messages with camelCase keys.

        Returns:
            list of dicts with ``messageId``, ``type``, ``timestamp`` and ``receivedAt``
            (ISO-8601 UTC), ``anonymousId``/``userId`` when set, ``context`` (object), and per
            type: ``event`` + ``properties`` (track), ``name`` + ``properties`` (page/screen),
            ``traits`` (identify), ``groupId`` + ``traits`` (group), ``previousId`` (alias).
        """
        rows = self.events if limit is None else self.events.slice(0, max(limit, 0))
        out = []
        for row in rows.to_pylist():
            message: dict[str, Any] = {"messageId": row["message_id"], "type": row["type"]}
            for column, key in _CAMEL.items():
                if row[column] is not None:
                    message[key] = row[column]
            message["timestamp"] = _iso(row["timestamp"])
            message["receivedAt"] = _iso(row["received_at"])
            message["context"] = json.loads(row["context"]) if row["context"] else {}
            kind = row["type"]
            if kind == "track":
                message["event"] = row["event"]
            elif kind in ("page", "screen"):
                message["name"] = row["event"]
            if kind in ("track", "page", "screen"):
                message["properties"] = json.loads(row["properties"] or "{}")
            if kind in ("identify", "group"):
                message["traits"] = json.loads(row["traits"] or "{}")
            out.append(message)
        return out

    def to_pandas(self) -> pd.DataFrame:
        """The events table as a pandas DataFrame (timestamps tz-aware UTC)."""
        return self.events.to_pandas()


def _utc(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _user_at(pop: Population):
    def user_at(person: np.ndarray, ts: np.ndarray) -> pa.Array:
        legacy = ts < pop.migrate_us[person]
        idx = pa.array(person)
        return pc.if_else(pa.array(legacy), pop.legacy_id.take(idx), pop.user_id.take(idx))

    return user_at


def _cohort(cfg: SimConfig, cohort: int) -> tuple[pa.Table, dict[str, pa.Table]]:
    """Events and truth tables of one cohort."""
    n = min(COHORT_SIZE, cfg.customers - cohort * COHORT_SIZE)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, cohort]))
    pop = make_population(cfg, cohort, n, rng)
    planted = None
    if cfg.driver_effects:
        pop = churn_drivers.unchurned(cfg, pop)  # the planted rule decides churn below
    own = precursors.thin(cfg, pop, self_initiated(cfg, pop, rng), rng)
    reg_us = registration_times(cfg, pop, own, rng)
    if cfg.driver_effects:
        planted = churn_drivers.plant_churn(
            cfg, pop, own, reg_us, churn_drivers.child_rng(cfg, cohort)
        )
        pop, own, reg_us = planted.pop, planted.own, planted.reg_us
    esp_blocks, clicks = send_messages(cfg, pop, reg_us, _user_at(pop), rng)
    in_store = precursors.thin(cfg, pop, offline(cfg, pop, reg_us, rng), rng)
    if planted is not None:
        in_store = planted.with_calls(cfg, in_store)
    visits = finalise_visits(cfg, pop, [own, clicks, in_store], reg_us, rng)
    ids, records = visit_ids(pop, visits, rng)
    id_blocks, id_records = identity_calls(pop, visits, ids.anon, ids.user, rng)
    order_blocks, orders = order_events(visits, ids, rng)
    active_to_us = cfg.start_us + pop.active_to_day * DAY
    fb_blocks, feedback = fb.feedback_events(cfg, pop, visits, ids, orders, active_to_us, rng)
    blocks = [
        *esp_blocks,
        *visit_events(pop, visits, ids, rng),
        *id_blocks,
        *order_blocks,
        *after_orders(visits, ids, orders, active_to_us, rng),
        *fb_blocks,
    ]
    events, prov = assemble(blocks, rng, pop.key, cfg.end_us)
    tables = {
        "messages": pa.table({"message_id": events["message_id"], "person_key": prov.person_key}),
        "identifiers": identifiers_table(events, prov.person_key, records + id_records, pop),
        "persons": _persons(cfg, pop, reg_us, visits, orders),
        "churners": pa.table(
            {"person_key": pop.key[pop.churned], "churn_day": pop.active_to_day[pop.churned]}
        ),
        "send_hours": pa.table({"person_key": pop.key, "best_hour": pop.preferred_hour}),
        "assignments": _assignments(pop, visits),
    }
    rows, ref = prov.rows("feedback")
    text = feedback.text[ref]
    tables["feedback"] = pa.table(
        {
            "message_id": events["message_id"].take(pa.array(rows)),
            "person_key": pop.key[feedback.person[ref]],
            "text": [fb.TEXTS[i][3] for i in text.tolist()],
            "language": [fb.TEXTS[i][0] for i in text.tolist()],
            "sentiment": [fb.TEXTS[i][1] for i in text.tolist()],
            "topic": [fb.TEXTS[i][2] for i in text.tolist()],
            "nps": feedback.nps[ref],
        }
    )
    rows, ref = prov.rows("visit")
    tables["visits"] = pa.table(
        {
            "message_id": events["message_id"].take(pa.array(rows)),
            "person_key": pop.key[visits.person[ref]],
            "channel": pa.array(np.array(CHANNELS, dtype=object)[visits.channel[ref]], pa.string()),
            "p_order": visits.p_order[ref],
            "ordered": visits.ordered[ref],
        }
    )
    return events, tables


def _persons(cfg: SimConfig, pop: Population, reg_us, visits, orders) -> pa.Table:
    person = visits.person[orders.visit]
    revenue = np.bincount(person, weights=orders.total, minlength=pop.n)
    refunded = np.bincount(person, weights=orders.total * orders.refunded, minlength=pop.n)
    registered = pa.array(reg_us != NEVER)
    null = pa.scalar(None, pa.string())
    channel = np.array([*MESSAGING_CHANNELS, None], dtype=object)[pop.preferred_channel]
    category = np.array([*(c[0] for c in CATEGORIES), None], dtype=object)[visits.favourite]
    return pa.table(
        {
            "person_key": pop.key,
            "user_id": pc.if_else(registered, pop.user_id, null),
            "email": pop.email,
            "phone": pop.phone,
            "locale": pa.array(np.array(LOCALES, dtype=object)[pop.locale], pa.string()),
            "timezone": pop.timezone,
            "preferred_hour": pop.preferred_hour,
            "preferred_channel": pa.array(channel, pa.string()),
            "favourite_category": pa.array(category, pa.string()),
            "churned": pop.churned,
            "churn_day": pa.array(pop.active_to_day, mask=~pop.churned),
            "orders": np.bincount(person, minlength=pop.n),
            "revenue": np.round(revenue, 2),
            "refunded": np.round(refunded, 2),
        }
    )


def _assignments(pop: Population, visits) -> pa.Table:
    keys, experiments, variants = [], [], []
    for e, (experiment, _, arms) in enumerate(EXPERIMENTS):
        who = np.flatnonzero(visits.arm[:, e] >= 0)
        keys.append(pop.key[who])
        experiments.append(np.full(len(who), experiment, dtype=object))
        variants.append(np.array([a for a, _ in arms], dtype=object)[visits.arm[who, e]])
    return pa.table(
        {
            "person_key": np.concatenate(keys),
            "experiment_id": pa.array(np.concatenate(experiments), pa.string()),
            "variant": pa.array(np.concatenate(variants), pa.string()),
        }
    )


def generate(cfg: SimConfig, cohorts: range) -> Iterator[tuple[pa.Table, dict[str, pa.Table]]]:
    """Yield (events, truth tables) cohort by cohort; memory stays one cohort at a time."""
    for cohort in cohorts:
        yield _cohort(cfg, cohort)


def make_truth(cfg: SimConfig, parts: list[dict[str, pa.Table]]) -> Truth:
    """Concatenate per-cohort truth tables into one :class:`Truth`."""
    tables = {name: pa.concat_tables([p[name] for p in parts]) for name in TABLES}
    return Truth(
        channel_effects=dict(cfg.channel_effects),
        churn_warning_days=cfg.churn_warning_days,
        growing_topics=dict(cfg.growing_topics),
        driver_effects=dict(cfg.driver_effects),
        driver_as_of=_utc(cfg.driver_cutoff_us) if cfg.driver_effects else None,
        driver_window_days=cfg.driver_window_days if cfg.driver_effects else 0,
        experiments=Truth.experiments_table(cfg.days),
        **tables,
    )


def simulate(
    customers: int = 20_000,
    days: int = 90,
    *,
    seed: int = 0,
    start: str | date = "2026-01-01",
    registered_share: float = 0.7,
    shared_device_share: float = 0.02,
    typo_email_share: float = 0.01,
    junk_share: float = 0.01,
    churn_share: float = 0.2,
    channel_effects: Mapping[str, float] | None = None,
    assist_channels: Mapping[str, float] | None = None,
    assist_days: int = 7,
    product_affinity: float = 0.0,
    churn_warning_days: int = 0,
    growing_topics: Mapping[str, float] | None = None,
    driver_effects: Mapping[str, float] | None = None,
    driver_window_days: int = 30,
) -> Simulation:
    """Simulate a multi-channel shop's events with planted, known truth.

    About 50 events per customer on average (heavy-tailed): visits through every channel,
    e-commerce funnels, messages and their opens, store and call-centre orders, identity calls
    with planted traps, clicks with coordinates, feedback and A/B exposures. The same arguments
    always give the identical table. See :func:`journeylens.simulate.config.make_config` for the
    meaning and allowed range of every argument.

    Returns:
        Simulation: ``events`` (``EVENTS_ARROW_SCHEMA``; timestamps in
        ``[start, start + days)``) and ``truth`` (:class:`~journeylens.simulate.truth.Truth`).

    Example:
        >>> sim = simulate(200, 30, seed=1)
        >>> sim.events.schema.names[:3]
        ['message_id', 'type', 'event']
        >>> sim.truth.messages.num_rows == sim.events.num_rows
        True
    """
    cfg = make_config(
        customers,
        days,
        seed=seed,
        start=start,
        registered_share=registered_share,
        shared_device_share=shared_device_share,
        typo_email_share=typo_email_share,
        junk_share=junk_share,
        churn_share=churn_share,
        channel_effects=channel_effects,
        assist_channels=assist_channels,
        assist_days=assist_days,
        product_affinity=product_affinity,
        churn_warning_days=churn_warning_days,
        growing_topics=growing_topics,
        driver_effects=driver_effects,
        driver_window_days=driver_window_days,
    )
    events, parts = [], []
    for table, truth in generate(cfg, range(cfg.cohorts)):
        events.append(table)
        parts.append(truth)
    return Simulation(pa.concat_tables(events), make_truth(cfg, parts))
