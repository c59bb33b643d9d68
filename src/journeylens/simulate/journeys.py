"""Turn visits into the events a shop records: page and screen views, the e-commerce funnel,
orders in store and by phone, clicks with coordinates, experiment exposures and what happens
after an order (refunds, reviews, shares).

Within a web/app visit the events follow the e-commerce v2 order: page views (the landing page
carries ``context.campaign`` and the referrer), ``Product Viewed`` (the first one is the product
the visit is about), then — as far as the visit gets — ``Product Added``, ``Cart Viewed``,
``Checkout Started``, ``Order Completed``. ``Element Clicked`` events land around fixed element
positions per page (:data:`ELEMENTS`), so click heatmaps have real hot spots, and a fifth to a
third of web page views report a ``Page Scrolled`` event (``path``, ``depth_percent``: the deepest
point reached) whose depth depends on the page (:data:`SCROLL_DEPTH`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.simulate.channels import TOUCHES
from journeylens.simulate.columns import (
    choose,
    const,
    field_num,
    field_raw,
    field_str,
    json_object,
    pick,
)
from journeylens.simulate.config import EXPERIMENTS
from journeylens.simulate.identity import IdRecords, email_variants, phone_variants
from journeylens.simulate.population import DEVICE_KINDS, JUNK_USER_IDS, LOCALES, Population
from journeylens.simulate.rows import Block
from journeylens.simulate.visits import APP, CALL, STORE, WEB, Visits
from journeylens.simulate.vocab import PAGES, PRODUCTS, SCREENS, SITE

__all__ = [
    "ELEMENTS",
    "SCROLL_DEPTH",
    "VisitIds",
    "page_object",
    "product_fields",
    "row_fields",
    "visit_context",
    "visit_events",
    "visit_ids",
]

S = 1_000_000  # microseconds per second
#: Clickable elements per page: page name → (selector, x as share of viewport width, y in px on
#: a desktop layout, spread as share of width). Mobile layouts stretch y by 1.8.
ELEMENTS: dict[str, tuple[tuple[str, float, float, float], ...]] = {
    "Home": (
        ("a.hero-cta", 0.5, 420, 0.06),
        ("nav a.category", 0.2, 64, 0.08),
        ("button.search", 0.85, 64, 0.02),
        ("div.promo-banner a", 0.5, 900, 0.1),
    ),
    "Search": (("input.search-box", 0.5, 120, 0.1), ("ul.results a", 0.4, 500, 0.15)),
    "Category": (("ul.grid a.tile", 0.5, 600, 0.2), ("select.sort", 0.85, 180, 0.02)),
    "Product": (
        ("button.add-to-cart", 0.75, 520, 0.03),
        ("div.gallery img", 0.3, 420, 0.08),
        ("a.reviews", 0.7, 780, 0.04),
    ),
    "Account": (("button.save", 0.5, 640, 0.03),),
    "Help": (("a.contact-us", 0.5, 300, 0.05), ("details.faq", 0.5, 700, 0.1)),
}
#: Scroll depth per page name: (share of views that report a scroll, mean depth as a share of
#: the page). Depths are Beta-distributed around the mean.
SCROLL_DEPTH: dict[str, tuple[float, float]] = {
    "Home": (0.35, 0.6),
    "Search": (0.3, 0.45),
    "Category": (0.35, 0.7),
    "Product": (0.3, 0.55),
    "Account": (0.2, 0.3),
    "Help": (0.25, 0.8),
}
_VIEWPORTS = {0: ((1440, 900), (1920, 1080), (1366, 768)), 1: ((390, 844), (412, 915))}
_PAGE_NAMES = [p[0] for p in PAGES]


@dataclass(frozen=True)
class VisitIds:
    """Per-visit columns every row of the visit repeats."""

    anon: pa.Array  # device anonymous id, null for store/call
    user: pa.Array  # user id if logged in (legacy before migration), junk on buggy clients
    source: pa.Array  # web | ios | android | pos | cti
    common: tuple[pa.Array, ...]  # context fragments: locale, timezone, device, traits


def visit_ids(pop: Population, v: Visits, rng: np.random.Generator) -> tuple[VisitIds, list]:
    """Identifiers and shared context of every visit, plus the identifiers emitted in context."""
    person = pa.array(v.person)
    device = np.maximum(v.device, 0)
    has_device = v.device >= 0
    anon = pc.if_else(pa.array(has_device), pop.dev_anon.take(pa.array(device)), None)
    known = choose(v.legacy, [pop.user_id.take(person), pop.legacy_id.take(person)])
    junk = pick(JUNK_USER_IDS, np.where(has_device, pop.dev_junk[device], -1))
    user = pc.if_else(pa.array(v.logged_in), known, junk)
    kind = np.where(has_device, pop.dev_kind[device], 0)
    source = np.array(["web", "web", "ios", "android"], dtype=object)[kind]
    source = np.where(v.kind == STORE, "pos", np.where(v.kind == CALL, "cti", source))
    dev_json = pc.binary_join_element_wise(
        '{"id":"',
        pop.dev_id.take(pa.array(device)),
        '","type":"',
        pick(DEVICE_KINDS, kind),
        '"}',
        "",
    )
    # Some logged-in calls carry context.traits: an e-mail as the form typed it, or on CTI
    # calls the caller's number, both identity evidence outside identify.
    with_email = v.logged_in & (v.kind <= APP) & (rng.random(len(v)) < 0.1)
    email = email_variants(rng, pop.email.take(person))
    phone = phone_variants(rng, pop, v.person)
    traits = choose(
        v.kind == CALL,
        [
            pc.binary_join_element_wise('{"email":"', email, '"}', ""),
            pc.binary_join_element_wise('{"phone":"', phone, '"}', ""),
        ],
    )
    # CTI knows the caller's number only when the person gave one.
    called = (v.kind == CALL) & pc.is_valid(phone).to_numpy(zero_copy_only=False)
    with_traits = with_email | called
    common = (
        field_str("locale", pick(LOCALES, pop.locale[v.person])),
        field_str("timezone", pop.timezone.take(person)),
        field_raw("device", dev_json, v.kind == APP),
        field_raw("traits", traits, with_traits),
    )
    channel = np.where(v.kind == STORE, "store", np.where(v.kind == CALL, "call_centre", None))
    common += (field_str("channel", pa.array(channel, type=pa.string())),)
    records = [
        IdRecords("email", email.filter(pa.array(with_email)), v.person[with_email]),
        IdRecords("phone", phone.filter(pa.array(called)), v.person[called]),
        IdRecords(
            "device_id", pop.dev_id.take(pa.array(device[v.kind == APP])), v.person[v.kind == APP]
        ),
    ]
    return VisitIds(anon, user, pa.array(source, type=pa.string()), common), records


def row_fields(v: Visits, ids: VisitIds, rows: np.ndarray, **fields) -> dict:
    """Block fields shared by rows drawn from visits ``rows``."""
    idx = pa.array(rows)
    return dict(
        person=v.person[rows],
        anonymous_id=ids.anon.take(idx),
        user_id=ids.user.take(idx),
        source=ids.source.take(idx),
        **fields,
    )


def visit_context(ids: VisitIds, rows: np.ndarray, extra: list) -> pa.Array:
    idx = pa.array(rows)
    return json_object([f.take(idx) for f in ids.common] + extra, len(rows))


def _delay(v: Visits, rows: np.ndarray) -> str:
    return "app" if len(rows) and v.kind[rows[0]] == APP else "web"


def page_object(path: pa.Array, url: pa.Array, title: pa.Array, referrer: pa.Array) -> pa.Array:
    """``context.page`` objects (also used as page properties, as analytics.js does)."""
    fragments = [field_str("path", path), field_str("url", url), field_str("title", title)]
    return json_object([*fragments, field_str("referrer", referrer)], len(path))


def product_fields(product: np.ndarray, quantity: np.ndarray | None = None) -> list[pa.Array]:
    """Segment e-commerce v2 product fields for each row's product (price in USD)."""
    fragments = [
        field_str("product_id", pick(PRODUCTS["product_id"].tolist(), product)),
        field_str("name", pick(PRODUCTS["name"].tolist(), product)),
        field_str("category", pick(PRODUCTS["category"].tolist(), product)),
        field_num("price", PRODUCTS["price"][product]),
    ]
    return fragments if quantity is None else [*fragments, field_num("quantity", quantity)]


def visit_events(pop: Population, v: Visits, ids: VisitIds, rng) -> list[Block]:
    """Page/screen views, product views, element clicks and experiment exposures of a cohort."""
    blocks: list[Block] = []
    for kind in (WEB, APP):
        visits = np.flatnonzero(v.kind == kind)
        blocks += _page_views(pop, v, ids, visits, kind, rng)
        blocks += _product_views(pop, v, ids, visits, kind, rng)
    return blocks + _experiment_views(v, ids)


def _page_views(pop, v: Visits, ids: VisitIds, visits, kind: int, rng) -> list[Block]:
    count = np.minimum(rng.geometric(0.55, len(visits)), 10)
    rows = np.repeat(visits, count)
    j = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
    landing = j == 0
    # Search ads land on a category page; everything else lands on the home page.
    has_term = np.array([t.term is not None for t in TOUCHES])[v.touch[rows]]
    page = np.array([0, 1, 2, 6, 7])[rng.choice(5, len(rows), p=[0.3, 0.3, 0.3, 0.05, 0.05])]
    page = np.where(landing, np.where(has_term, 2, 0), page)
    ts = v.start_us[rows] + j * 45 * S + np.where(landing, 0, rng.integers(0, 30 * S, len(rows)))
    landing_touch = np.where(landing, v.touch[rows], -1)
    campaign = pick([t.campaign_json() for t in TOUCHES], landing_touch)
    fields = row_fields(v, ids, rows)
    ref = np.where(landing, rows, -1)
    if kind == APP:
        screen = pick(SCREENS, np.array([0, 1, 2, 3, 4, 5, 5, 5])[page])
        ctx = visit_context(ids, rows, [field_raw("campaign", campaign)])
        props = json_object([field_str("name", screen)], len(rows))
        return [
            Block(
                type="screen",
                event=screen,
                timestamp_us=ts,
                context=ctx,
                delay="app",
                properties=props,
                label="visit",
                ref=ref,
                **fields,
            )
        ]
    category = pick(PRODUCTS["category"].tolist(), v.product[rows])
    path = pick([p[1] for p in PAGES], page)
    path = pc.if_else(pa.array(page == 2), pc.binary_join_element_wise(path, category, "/"), path)
    query = pc.fill_null(pick([t.query() for t in TOUCHES], landing_touch), "")
    url = pc.binary_join_element_wise(SITE, path, query, "")
    referrer = pc.if_else(
        pa.array(landing), pick([t.referrer for t in TOUCHES], v.touch[rows]), SITE + "/"
    )
    page_obj = page_object(path, url, pick([p[2] for p in PAGES], page), referrer)
    ctx = visit_context(ids, rows, [field_raw("campaign", campaign), field_raw("page", page_obj)])
    blocks = [
        Block(
            type="page",
            event=pick(_PAGE_NAMES, page),
            timestamp_us=ts,
            context=ctx,
            delay="web",
            properties=page_obj,
            label="visit",
            ref=ref,
            **fields,
        )
    ]
    return (
        blocks
        + _clicks(pop, v, ids, rows, page, path, ts, rng)
        + _scrolls(v, ids, rows, page, path, ts, rng)
    )


def _product_views(pop, v: Visits, ids: VisitIds, visits, kind: int, rng) -> list[Block]:
    # A visit that adds to cart always views the product it adds (the visit's product) first.
    count = np.minimum(rng.poisson(1.0, len(visits)) + v.added[visits], 15)
    rows = np.repeat(visits, count)
    k = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
    other = rng.choice(len(PRODUCTS["weight"]), len(rows), p=PRODUCTS["weight"])
    product = np.where(k == 0, v.product[rows], other)
    ts = v.start_us[rows] + (20 + k * 40) * S + rng.integers(0, 15 * S, len(rows))
    props = json_object(
        [*product_fields(product), field_str("currency", const("USD", len(rows)))], len(rows)
    )
    if kind == APP:
        ctx = visit_context(ids, rows, [])
        return [
            Block(
                type="track",
                event="Product Viewed",
                timestamp_us=ts,
                context=ctx,
                delay="app",
                properties=props,
                **row_fields(v, ids, rows),
            )
        ]
    path = pc.binary_join_element_wise(
        "/product/", pick(PRODUCTS["product_id"].tolist(), product), ""
    )
    url = pc.binary_join_element_wise(SITE, path, "")
    page_obj = page_object(
        path, url, pick(PRODUCTS["name"].tolist(), product), const(SITE + "/", len(rows))
    )
    ctx = visit_context(ids, rows, [field_raw("page", page_obj)])
    block = Block(
        type="track",
        event="Product Viewed",
        timestamp_us=ts,
        context=ctx,
        delay="web",
        properties=props,
        **row_fields(v, ids, rows),
    )
    page = np.full(len(rows), 3)
    clicks = _clicks(pop, v, ids, rows, page, path, ts, rng)
    return [block, *clicks, *_scrolls(v, ids, rows, page, path, ts, rng)]


def _clicks(pop, v: Visits, ids: VisitIds, rows, page, path, ts, rng) -> list[Block]:
    """``Element Clicked`` events around each page's elements (see :data:`ELEMENTS`)."""
    count = rng.poisson(0.35, len(rows))
    src = np.repeat(np.arange(len(rows)), count)
    n = len(src)
    names = np.array(_PAGE_NAMES, dtype=object)[page[src]]
    selector, x_share, y_px, spread = (np.empty(n, dtype=object), *(np.empty(n) for _ in range(3)))
    u = rng.random(n)
    for name, elements in ELEMENTS.items():
        at = names == name
        choice = (u[at] * len(elements)).astype(int)
        table = np.array([e[1:] for e in elements])
        selector[at] = np.array([e[0] for e in elements], dtype=object)[choice]
        x_share[at], y_px[at], spread[at] = table[choice].T
    has = selector != None  # noqa: E711 - object array comparison, element-wise
    src, selector, x_share, y_px, spread = (
        src[has],
        selector[has],
        x_share[has],
        y_px[has],
        spread[has],
    )
    n = len(src)
    visit = rows[src]
    device = v.device[visit]
    mobile = pop.dev_kind[device] == 1
    choice = device % 3
    vw = np.where(mobile, np.where(choice % 2, 412, 390), np.array([1440, 1920, 1366])[choice])
    vh = np.where(mobile, np.where(choice % 2, 915, 844), np.array([900, 1080, 768])[choice])
    x = np.clip(np.rint(x_share * vw + rng.normal(0, 1, n) * spread * vw), 0, vw - 1)
    y = np.maximum(np.rint(y_px * np.where(mobile, 1.8, 1.0) + rng.normal(0, 25, n)), 0)
    props = json_object(
        [
            field_num("x", x.astype(np.int64)),
            field_num("y", y.astype(np.int64)),
            field_str("path", path.take(pa.array(src))),
            field_num("viewport_width", vw),
            field_num("viewport_height", vh),
            field_str("selector", pa.array(selector, pa.string())),
        ],
        n,
    )
    ctx = visit_context(ids, visit, [])
    when = ts[src] + rng.integers(2 * S, 40 * S, n)
    return [
        Block(
            type="track",
            event="Element Clicked",
            timestamp_us=when,
            context=ctx,
            delay="web",
            properties=props,
            **row_fields(v, ids, visit),
        )
    ]


def _scrolls(v: Visits, ids: VisitIds, rows, page, path, ts, rng) -> list[Block]:
    """``Page Scrolled`` events after page views (see :data:`SCROLL_DEPTH`)."""
    # A child generator: scrolls were added later, and drawing them from ``rng`` itself would
    # change every click, order and message generated after them.
    rng = rng.spawn(1)[0]
    names = np.array(_PAGE_NAMES, dtype=object)[page]
    share = np.zeros(len(rows))
    mean = np.full(len(rows), 0.5)
    for name, (reports, depth) in SCROLL_DEPTH.items():
        share[names == name], mean[names == name] = reports, depth
    keep = rng.random(len(rows)) < share
    src = np.flatnonzero(keep)
    # Beta(4m, 4(1 - m)) has mean m and leaves room for both skimmers and readers.
    depth = np.rint(100 * rng.beta(4 * mean[src], 4 * (1 - mean[src]))).astype(np.int64)
    props = json_object(
        [field_str("path", path.take(pa.array(src))), field_num("depth_percent", depth)], len(src)
    )
    visit = rows[src]
    return [
        Block(
            type="track",
            event="Page Scrolled",
            timestamp_us=ts[src] + rng.integers(5 * S, 40 * S, len(src)),
            context=visit_context(ids, visit, []),
            delay="web",
            properties=props,
            **row_fields(v, ids, visit),
        )
    ]


def _experiment_views(v: Visits, ids: VisitIds) -> list[Block]:
    blocks = []
    for e, (experiment, _, variants) in enumerate(EXPERIMENTS):
        rows = np.flatnonzero(v.exposed[:, e])
        arm = v.arm[v.person[rows], e]
        props = json_object(
            [
                field_str("experiment_id", const(experiment, len(rows))),
                field_str("experiment_name", const(experiment.replace("_", " "), len(rows))),
                field_str("variant", pick([name for name, _ in variants], arm)),
            ],
            len(rows),
        )
        blocks.append(
            Block(
                type="track",
                event="Experiment Viewed",
                timestamp_us=v.start_us[rows] + 2 * S,
                context=visit_context(ids, rows, []),
                delay="web",
                properties=props,
                **row_fields(v, ids, rows),
            )
        )
    return blocks
