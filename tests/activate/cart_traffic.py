"""Simulated shop traffic for runner tests: people who add to cart, some of whom then buy.

Every message carries a ``userId`` (each person is identified from their first message), so
person ids never change as identities resolve and an in-process replay can name the same
persons as the runner.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

ZONES = ("Europe/London", "America/New_York", "Asia/Seoul")


def cart_traffic(persons: int, *, days: float, start: datetime, seed: int) -> list[dict[str, Any]]:
    """Segment messages, in time order: an ``identify`` per person at ``start`` (e-mail, a
    phone for two in three, a time zone), then one or two ``Product Added`` in the first
    ``days``, each followed by an ``Order Completed`` 40% of the time (after 10 minutes to two
    days), some ``Product Viewed`` noise, and an ``Unsubscribed`` for one person in 25."""
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []

    def message(uid: str, kind: str, at: datetime, mid: str, **fields: Any) -> None:
        out.append(
            {"type": kind, "userId": uid, "messageId": mid, "timestamp": at.isoformat(), **fields}
        )

    for i in range(persons):
        uid = f"u{i:05d}"
        traits = {"email": f"{uid}@example.com", "timezone": ZONES[i % 3]}
        if i % 3:
            traits["phone"] = f"+4477009{i:05d}"
        message(uid, "identify", start, f"{uid}-id", traits=traits)
        for a in range(int(rng.integers(1, 3))):
            added = start + timedelta(days=float(rng.uniform(0.01, days)))
            message(
                uid,
                "track",
                added,
                f"{uid}-add-{a}",
                event="Product Added",
                properties={"sku": f"sku-{int(rng.integers(1, 50))}"},
            )
            viewed = added - timedelta(minutes=float(rng.uniform(1, 30)))
            message(uid, "track", viewed, f"{uid}-view-{a}", event="Product Viewed")
            if rng.random() < 0.4:
                later = timedelta(minutes=float(rng.uniform(10, 2 * 24 * 60)))
                message(
                    uid,
                    "track",
                    added + later,
                    f"{uid}-order-{a}",
                    event="Order Completed",
                    properties={"revenue": 40.0},
                )
        if i % 25 == 7:
            quit_at = start + timedelta(days=float(rng.uniform(0.5, days)))
            message(uid, "track", quit_at, f"{uid}-unsub", event="Unsubscribed")
    out.sort(key=lambda m: (m["timestamp"], m["messageId"]))
    return out


def due_before(messages: list[dict[str, Any]], end: datetime) -> list[dict[str, Any]]:
    """The messages whose timestamp is before ``end``."""
    return [m for m in messages if datetime.fromisoformat(m["timestamp"]) < end]
