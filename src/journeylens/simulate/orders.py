"""The buying part of a visit (cart, checkout, order, in store and by phone) and what follows an
order: refunds, reviews and shares (the advocacy stage).

Every order has one product line (the visit's product, quantity 1–4); ``revenue`` equals the
order total in USD and is repeated in ``properties.revenue``. Timing inside a visit: add to cart
10 s after the last product view, cart +40 s, checkout +80 s, order +200 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from journeylens.simulate.columns import (
    const,
    field_num,
    field_raw,
    field_str,
    hex_ids,
    json_object,
    pick,
)
from journeylens.simulate.journeys import VisitIds, product_fields, row_fields, visit_context
from journeylens.simulate.rows import Block
from journeylens.simulate.visits import APP, CALL, DAY, STORE, Visits
from journeylens.simulate.vocab import PRODUCTS

__all__ = ["Orders", "after_orders", "order_events"]

S = 1_000_000
_REASONS = ("order_status", "return_request", "product_question", "billing", "complaint")


@dataclass(frozen=True)
class Orders:
    """One row per order placed in the window (aligned arrays)."""

    visit: np.ndarray
    order_id: pa.Array
    total: np.ndarray  # USD
    timestamp_us: np.ndarray
    refunded: np.ndarray  # a refund follows (it may fall after the window and not be emitted)
    refund_us: np.ndarray


def _delay(kind: int) -> str:
    return {STORE: "import", CALL: "import", APP: "app"}.get(kind, "web")


def order_events(v: Visits, ids: VisitIds, rng: np.random.Generator) -> tuple[list[Block], Orders]:
    """Cart/checkout/order events of web and app visits, store visits and calls with their orders.

    Returns:
        (blocks, orders)
    """
    blocks: list[Block] = []
    n = len(v)
    quantity = rng.choice([1, 2, 3, 4], n, p=[0.78, 0.15, 0.05, 0.02])
    total = np.round(PRODUCTS["price"][v.product] * quantity, 2)
    order_id = hex_ids(rng, n, 6, "ord_")
    line = json_object(product_fields(v.product, quantity), n)
    products = pa.compute.binary_join_element_wise("[", line, "]", "")
    # Offsets from the visit start; views took about 20 + 40 s each, at most 15 of them.
    base = v.start_us + 10 * 60 * S
    steps = (
        ("Product Added", v.added, base, [*product_fields(v.product, quantity)]),
        ("Cart Viewed", v.cart, base + 40 * S, [field_raw("products", products)]),
        (
            "Checkout Started",
            v.checkout,
            base + 80 * S,
            [
                field_str("order_id", order_id),
                field_num("value", total),
                field_raw("products", products),
            ],
        ),
    )
    for event, mask, ts, fields in steps:
        for kind in (0, APP):
            rows = np.flatnonzero(mask & (v.kind == kind))
            idx = pa.array(rows)
            props = json_object(
                [f.take(idx) for f in fields] + [field_str("currency", const("USD", len(rows)))],
                len(rows),
            )
            blocks.append(
                Block(
                    type="track",
                    event=event,
                    timestamp_us=ts[rows],
                    context=visit_context(ids, rows, []),
                    delay=_delay(kind),
                    properties=props,
                    **row_fields(v, ids, rows),
                )
            )
    for kind, event, extra in (
        (
            STORE,
            "Store Visited",
            lambda r: [
                field_str(
                    "store_id",
                    pick(["store_sf_01", "store_ny_02", "store_sel_03", "store_chi_04"], r % 4),
                )
            ],
        ),
        (
            CALL,
            "Call Completed",
            lambda r: [
                field_str("call_id", hex_ids(rng, len(r), 6, "call_")),
                field_str("reason", pick(_REASONS, rng.integers(0, len(_REASONS), len(r)))),
                field_num("duration_seconds", rng.integers(60, 1500, len(r))),
            ],
        ),
    ):
        rows = np.flatnonzero(v.kind == kind)
        blocks.append(
            Block(
                type="track",
                event=event,
                timestamp_us=v.start_us[rows],
                context=visit_context(ids, rows, []),
                delay="import",
                properties=json_object(extra(rows), len(rows)),
                label="visit",
                ref=rows,
                **row_fields(v, ids, rows),
            )
        )
    rows = np.flatnonzero(v.ordered)
    idx = pa.array(rows)
    kinds = v.kind[rows]
    ts = np.where(kinds >= STORE, v.start_us[rows] + 5 * 60 * S, base[rows] + 200 * S)
    props = json_object(
        [
            field_str("order_id", order_id.take(idx)),
            field_num("total", total[rows]),
            field_num("revenue", total[rows]),
            field_str("currency", const("USD", len(rows))),
            field_raw("products", products.take(idx)),
        ],
        len(rows),
    )
    for kind in (0, APP, STORE, CALL):
        sel = np.flatnonzero(kinds == kind)
        r = rows[sel]
        blocks.append(
            Block(
                type="track",
                event="Order Completed",
                timestamp_us=ts[sel],
                context=visit_context(ids, r, []),
                delay=_delay(kind),
                properties=props.take(pa.array(sel)),
                revenue=total[r],
                currency="USD",
                **row_fields(v, ids, r),
            )
        )
    refunded = rng.random(len(rows)) < 0.06
    refund_us = ts + rng.integers(1, 21, len(rows)) * DAY + rng.integers(0, DAY, len(rows))
    orders = Orders(rows, order_id.take(idx), total[rows], ts, refunded, refund_us)
    return blocks, orders


def after_orders(
    v: Visits, ids: VisitIds, orders: Orders, active_to_us: np.ndarray, rng
) -> list[Block]:
    """Refunds (server-side, even after churn), reviews and shares (not after churn)."""
    blocks = []
    r = np.flatnonzero(orders.refunded)
    visit = orders.visit[r]
    props = json_object(
        [
            field_str("order_id", orders.order_id.take(pa.array(r))),
            field_num("total", orders.total[r]),
            field_str("currency", const("USD", len(r))),
        ],
        len(r),
    )
    fields = row_fields(v, ids, visit)
    fields["source"] = "server"
    blocks.append(
        Block(
            type="track",
            event="Order Refunded",
            timestamp_us=orders.refund_us[r],
            context=const("{}", len(r)),
            delay="server",
            properties=props,
            **fields,
        )
    )
    m = len(orders.visit)
    for event, share, days, make in (
        (
            "Product Reviewed",
            0.10,
            (3, 15),
            lambda visit, n: [
                field_str("product_id", pick(PRODUCTS["product_id"].tolist(), v.product[visit])),
                field_str("review_id", hex_ids(rng, n, 6, "rev_")),
                field_num(
                    "rating", rng.choice([1, 2, 3, 4, 5], n, p=[0.05, 0.07, 0.13, 0.35, 0.4])
                ),
            ],
        ),
        (
            "Product Shared",
            0.04,
            (0, 3),
            lambda visit, n: [
                field_str("product_id", pick(PRODUCTS["product_id"].tolist(), v.product[visit])),
                field_str(
                    "share_via",
                    pick(["email", "whatsapp", "link", "kakaotalk"], rng.integers(0, 4, n)),
                ),
            ],
        ),
    ):
        when = orders.timestamp_us + rng.integers(*days, m) * DAY + rng.integers(0, DAY, m)
        pick_rows = np.flatnonzero(
            (rng.random(m) < share)
            & (when < active_to_us[v.person[orders.visit]])
            & (v.kind[orders.visit] <= APP)
        )
        visit = orders.visit[pick_rows]
        blocks.append(
            Block(
                type="track",
                event=event,
                timestamp_us=when[pick_rows],
                context=visit_context(ids, visit, []),
                delay="web",
                properties=json_object(make(visit, len(visit)), len(visit)),
                **row_fields(v, ids, visit),
            )
        )
    return blocks
