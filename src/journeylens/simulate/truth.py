"""The ground truth a simulation planted, as small frozen tables the tests can score against.

Each table is described on :class:`Truth`. Person keys (``person_key``) are integers, unique
across the whole simulation; they are the answer identity resolution should recover.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.simulate.config import EXPERIMENTS
from journeylens.simulate.identity import JUNK_EMAIL, IdRecords
from journeylens.simulate.population import JUNK_USER_IDS, Population

__all__ = ["TABLES", "Truth", "identifiers_table"]

#: Names of the tabular fields of :class:`Truth`, in the order they are written to disk.
TABLES = (
    "messages",
    "identifiers",
    "persons",
    "churners",
    "send_hours",
    "assignments",
    "feedback",
    "visits",
)


@dataclass(frozen=True)
class Truth:
    """What really happened in a simulation.

    Attributes:
        messages: one row per event. ``message_id`` (string) and ``person_key`` (int64): the
            person who really produced the message (on a shared device, the one using it).
        identifiers: one row per distinct (``id_type``, ``id_value``, ``person_key``) emitted.
            ``id_type`` is user_id, anonymous_id, email, phone or device_id; ``id_value`` is the
            raw value as emitted (case and whitespace untouched); ``person_key`` the person who
            emitted it; ``owner_key`` whose identifier it really is (the owner of a shared
            device, the real holder of a borrowed e-mail address; null for junk values);
            ``shared_device`` (an anonymous id used by several persons), ``typo_email`` (this
            person emitted someone else's address), ``junk`` (a QA/placeholder value such as
            "undefined", "null", "0", "anonymous", "test@test.com").
        persons: one row per person. ``person_key``; ``user_id`` (null if never registered in
            or before the window); ``email`` (own canonical address) and ``phone`` (E.164), null
            when not given; ``locale``; ``timezone``; ``preferred_hour`` (UTC hour 0–23 around
            which the person is active and opens messages); ``preferred_channel`` (a
            ``journeylens.schema.CHANNELS`` name of a messaging channel, null if not reachable);
            ``favourite_category`` (the category most of their visits are about, null unless
            ``product_affinity`` was set);
            ``churned``; ``churn_day`` (day index from ``start``, null if not churned);
            ``orders`` and ``revenue`` (USD, gross) placed in the window; ``refunded`` (USD).
        channel_effects: channel name (``CHANNELS``) → true additive change in the chance that a
            visit through that channel ends in an order, relative to a Direct visit.
        churners: ``person_key``, ``churn_day`` of every churner (no activity from that day on).
        churn_warning_days: length ``W`` of the planted warning window (0 = none). When > 0,
            the planted drivers of churn are, in the ``W`` days before a churner's churn day:
            a linear fall of their visit rate (web, app, store, call) and of their chance to
            open or click a message, down to ``journeylens.simulate.precursors.FLOOR`` of the
            usual level at the churn day, while deliveries go on; and frequent, unhappy feedback
            scores. Without it (0) a churner stops dead and only the silence after the churn
            day (recency, unanswered deliveries) marks them.
        growing_topics: feedback topic → weight among complaints in the second half of the
            window (empty = none planted; see ``make_config``'s ``growing_topics``). A named
            topic's complaints grow from 1/8 of all complaints to weight / (weight + 7).
        driver_effects: planted driver → true log-odds of churn per unit (empty = none; see
            :mod:`journeylens.simulate.churn_drivers`). When set, churn was decided at
            ``driver_as_of`` by ``P(churn) = sigmoid(α + Σ β·x)`` from the behaviour before it,
            and "no activity of the person's own in the ``driver_window_days`` after
            ``driver_as_of``" is exactly that churn: run ``drivers`` with ``as_of=driver_as_of``
            and ``window=driver_window_days`` to recover ``exp(β)`` as an odds ratio.
        driver_as_of: the cutoff (UTC), None without planted drivers.
        driver_window_days: the outcome period after it, in days (0 without planted drivers).
        send_hours: ``person_key``, ``best_hour`` (UTC) — when messages are most likely opened.
        experiments: ``experiment_id``, ``variant``, ``true_lift`` (additive change in visit
            conversion from exposure on), ``start_day``.
        assignments: ``person_key``, ``experiment_id``, ``variant`` for every exposed person.
        feedback: ``message_id``, ``person_key``, ``text``, ``language`` (en|ko), ``sentiment``
            (negative|neutral|positive), ``topic``, ``nps`` (0–10).
        visits: one row per visit: ``message_id`` of its first event (landing page/screen, store
            visit or call), ``person_key``, ``channel`` (the intended ``CHANNELS`` name),
            ``p_order`` (the planted chance of an order) and ``ordered``.
    """

    messages: pa.Table
    identifiers: pa.Table
    persons: pa.Table
    channel_effects: Mapping[str, float]
    churners: pa.Table
    churn_warning_days: int
    growing_topics: Mapping[str, float]
    driver_effects: Mapping[str, float]
    driver_as_of: datetime | None
    driver_window_days: int
    send_hours: pa.Table
    experiments: pa.Table
    assignments: pa.Table
    feedback: pa.Table
    visits: pa.Table

    @staticmethod
    def experiments_table(days: int) -> pa.Table:
        """The planted experiments as a table (see ``experiments`` above)."""
        rows = [
            (experiment, variant, lift, int(start * days))
            for experiment, start, variants in EXPERIMENTS
            for variant, lift in variants
        ]
        names = ["experiment_id", "variant", "true_lift", "start_day"]
        return pa.table(dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)))


def identifiers_table(
    events: pa.Table, person_key: np.ndarray, records: list[IdRecords], pop: Population
) -> pa.Table:
    """Distinct identifiers per person with their trap flags (see ``Truth.identifiers``)."""
    keys = pa.array(person_key)
    parts = []
    for column in ("anonymous_id", "user_id"):
        values = events[column].combine_chunks()
        valid = pc.is_valid(values)
        parts.append(_part(column, values.filter(valid), keys.filter(valid), None))
    for r in records:
        parts.append(_part(r.id_type, r.value, pa.array(pop.key[r.person]), r.typo))
    table = pa.concat_tables(parts)
    table = table.group_by(["id_type", "id_value", "person_key"], use_threads=False).aggregate(
        [("typo_email", "any")]
    )
    id_type, value = table["id_type"].combine_chunks(), table["id_value"].combine_chunks()
    person = table["person_key"].combine_chunks()
    is_anon = pc.equal(id_type, "anonymous_id")
    device_row = pc.index_in(value, value_set=pop.dev_anon)
    shared = pc.and_(
        is_anon, pc.fill_null(pc.array_take(pa.array(pop.dev_shared), device_row), False)
    )
    junk = pc.or_(
        pc.and_(pc.equal(id_type, "user_id"), pc.is_in(value, pa.array(JUNK_USER_IDS))),
        pc.and_(
            pc.equal(id_type, "email"),
            pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(value)), JUNK_EMAIL),
        ),
    )
    owner_device = pc.array_take(pa.array(pop.key[pop.dev_owner]), device_row)
    owner = pc.if_else(is_anon, owner_device, person)
    # A borrowed address belongs to the person whose address it is, not to the writer.
    canonical = pc.utf8_lower(pc.utf8_trim_whitespace(value))
    holder = pc.index_in(canonical, value_set=pop.email)
    holder_key = pc.array_take(pa.array(pop.key), holder)
    owner = pc.if_else(
        pc.and_(pc.equal(id_type, "email"), pc.is_valid(holder_key)), holder_key, owner
    )
    owner = pc.if_else(junk, pa.scalar(None, pa.int64()), owner)
    return pa.table(
        {
            "id_type": id_type,
            "id_value": value,
            "person_key": person,
            "owner_key": owner,
            "shared_device": shared,
            "typo_email": table["typo_email_any"],
            "junk": junk,
        }
    )


def _part(id_type: str, values: pa.Array, keys: pa.Array, typo: np.ndarray | None) -> pa.Table:
    n = len(values)
    flag = np.zeros(n, dtype=bool) if typo is None else typo
    return pa.table(
        {
            "id_type": pa.array(np.full(n, id_type, dtype=object), pa.string()),
            "id_value": values.cast(pa.string()),
            "person_key": keys.cast(pa.int64()),
            "typo_email": pa.array(flag),
        }
    )
