"""Where a visit came from: source, medium and campaign of every event, derived as GA does.

The first of these that an event carries decides its traffic source:

1. UTM tags: ``context.campaign`` (analytics.js parses ``utm_*`` into it, ``utm_campaign`` as
   ``name``), else ``utm_source`` / ``utm_medium`` / ``utm_campaign`` in the page URL (names in
   lower case, as analytics.js reads them; values as written, percent-encoding not decoded).
   A tag without a source or a medium gets ``(not set)`` for the missing one.
2. An ad click id in the page URL or query string (``sources.CLICK_IDS``: ``gclid`` →
   ``google / cpc``, ``msclkid`` → ``bing / cpc``, ``fbclid`` → ``facebook / social`` …).
3. An external referrer: webmail → ``<site> / email``; shopping or video site →
   ``<site> / referral``; social site → ``<site> / social``; search engine → ``<engine> /
   organic``; any other host → ``<host> / referral`` (host without ``www.``).
   Not external: no referrer, the page's own host, ``own_domains`` and their subdomains, and
   payment gateways (``sources.PAYMENT_GATEWAYS``), whose return visits are not new touches.
4. Nothing: ``(direct) / (none)``, and the event is not a touch.

Page URL, search and referrer are read from ``context.page`` and, for server-side page calls that
only fill properties, from ``properties.url`` / ``search`` / ``referrer``.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from journeylens.enrich.sources import (
    CATEGORIES,
    CLICK_IDS,
    HOST_PATTERN,
    PAYMENT_GATEWAYS,
    click_id_pattern,
    domain_pattern,
    site_by_domain,
)
from journeylens.jsontext import with_json_text

__all__ = ["TOUCH_COL", "add_traffic"]

#: The private boolean column ``add_traffic`` leaves behind: does the event carry a touch?
TOUCH_COL = "_jl_is_touch"

_P = "_jl_tr_"

#: The medium a referrer from each site category gets (the source is the site's name).
_CATEGORY_MEDIUM = {
    "email": "email",
    "shopping": "referral",
    "video": "referral",
    "social": "social",
    "search": "organic",
}


def _url_param(location: ir.StringValue, name: str) -> ir.StringValue:
    # Names are matched as analytics.js does, in lower case; values keep theirs. The cheap
    # substring test spares the regex on the many URLs without UTMs.
    value = location.re_extract(rf"(?:^|[?&#;]){name}=([^&#;]*)", 1).nullif("")
    return ibis.ifelse(location.contains("utm_"), value, ibis.null("string"))


def _own_host(host: ir.StringValue, own_domains: Sequence[str]) -> ir.BooleanValue:
    domains = sorted({d.strip().lower().removeprefix("www.") for d in own_domains} - {""})
    own = ibis.literal(False)
    for domain in domains:
        own = own | (host == domain) | host.endswith("." + domain)
    return own


def _lookup(value: ir.StringValue, mapping: dict[str, str]) -> ir.StringValue:
    return value.cases(*mapping.items(), else_=None)


def add_traffic(events: ibis.Table, *, own_domains: Sequence[str] = ()) -> ibis.Table:
    """Add the derived traffic source of every event (see the module docstring for the order).

    ``events`` needs ``context`` and ``properties`` (JSON or JSON text).

    Returns:
        ``events`` plus ``utm_source`` (never null; ``(direct)`` when the event carries nothing),
        ``utm_medium`` (never null; ``(none)`` when nothing), ``utm_campaign`` (the UTM campaign
        name, or null) and the private boolean ``TOUCH_COL``: true when the source came from
        UTMs, a click id or an external referrer.
    """
    ctx = events.context.cast("json")
    props = events.properties.cast("json")
    page = ctx["page"]
    campaign = ctx["campaign"]
    # Each JSON path is read once into a column; later steps build on columns instead of
    # repeating expressions, so the SQL spells every JSON read and regex once.
    t = with_json_text(
        events,
        **{
            _P + "page_url": page["url"],
            _P + "prop_url": props["url"],
            _P + "page_search": page["search"],
            _P + "prop_search": props["search"],
            _P + "page_referrer": page["referrer"],
            _P + "prop_referrer": props["referrer"],
            _P + "c_source": campaign["source"],
            _P + "c_medium": campaign["medium"],
            _P + "c_name": campaign["name"],
        },
    )
    url = ibis.coalesce(t[_P + "page_url"], t[_P + "prop_url"])
    search = ibis.coalesce(t[_P + "page_search"], t[_P + "prop_search"])
    referrer = ibis.coalesce(t[_P + "page_referrer"], t[_P + "prop_referrer"])
    t = t.mutate(
        **{
            _P + "location": url.fill_null("") + "&" + search.fill_null(""),
            # The page's host only matters to tell a self-referral.
            _P + "page_host": ibis.ifelse(
                referrer.isnull(),
                ibis.null("string"),
                url.lower().re_extract(HOST_PATTERN, 1).nullif(""),
            ),
            _P + "ref_host": referrer.lower().re_extract(HOST_PATTERN, 1).nullif(""),
        }
    )
    location, ref_host = t[_P + "location"], t[_P + "ref_host"]
    internal = (
        (ref_host == t[_P + "page_host"].fill_null(""))
        | _own_host(ref_host, own_domains)
        | ref_host.re_search(domain_pattern(PAYMENT_GATEWAYS))
    )
    t = t.mutate(
        **{
            _P + "source": ibis.coalesce(t[_P + "c_source"], _url_param(location, "utm_source")),
            _P + "medium": ibis.coalesce(t[_P + "c_medium"], _url_param(location, "utm_medium")),
            _P + "campaign": ibis.coalesce(t[_P + "c_name"], _url_param(location, "utm_campaign")),
            # Every click id ends in "id", so URLs without "id=" skip the regex.
            _P + "click": ibis.ifelse(
                location.contains("id="),
                location.re_extract(click_id_pattern(), 1).nullif(""),
                ibis.null("string"),
            ),
            _P + "external": ref_host.notnull() & ~internal.fill_null(False),
        }
    )
    external = t[_P + "external"]
    # A referrer host is looked up in one category after another; only external ones are.
    t = t.mutate(
        **{
            _P + "key_" + category: ibis.ifelse(
                external, t[_P + "ref_host"].re_extract(domain_pattern(sites), 1).nullif(""), None
            )
            for category, sites in CATEGORIES.items()
        }
    )
    keys = {category: t[_P + "key_" + category] for category in CATEGORIES}
    ref_source = ibis.cases(
        *(
            (keys[category].notnull(), _lookup(keys[category], dict(site_by_domain(sites))))
            for category, sites in CATEGORIES.items()
        ),
        else_=t[_P + "ref_host"],
    )
    ref_medium = ibis.cases(
        *((keys[category].notnull(), _CATEGORY_MEDIUM[category]) for category in CATEGORIES),
        else_="referral",
    )
    tagged = t[_P + "source"].notnull() | t[_P + "medium"].notnull()
    click = t[_P + "click"]
    click_source = _lookup(click, {k: source for k, (source, _) in CLICK_IDS.items()})
    click_medium = _lookup(click, {k: medium for k, (_, medium) in CLICK_IDS.items()})
    out = t.mutate(
        utm_source=ibis.cases(
            (tagged, t[_P + "source"].fill_null("(not set)")),
            (click.notnull(), click_source),
            (external, ref_source),
            else_="(direct)",
        ),
        utm_medium=ibis.cases(
            (tagged, t[_P + "medium"].fill_null("(not set)")),
            (click.notnull(), click_medium),
            (external, ref_medium),
            else_="(none)",
        ),
        utm_campaign=t[_P + "campaign"],
        **{TOUCH_COL: tagged | click.notnull() | external},
    )
    return out.drop(*(c for c in out.columns if c.startswith(_P)))
