"""Curated lists of traffic sources: search, social, video and shopping sites, webmail, payment
gateways and ad click ids. Data only, plus the regular expressions built from it.

GA4 classifies a source by Google's own site lists (search, social, video, shopping); journeylens
keeps its own, shorter list here, written for the sources that matter to a consumer brand. A site
is named once, by a canonical ``name``, with the ``domains`` that identify it:

* a domain without a dot (``"google"``) is a *stem*: it matches that label followed by any public
  suffix (``google.com``, ``google.co.uk``) under any subdomain (``news.google.com``), and the
  bare word itself, as a hand-written ``utm_source=google``;
* a domain with a dot (``"t.co"``) matches that host and its subdomains.

``aliases`` are further bare ``utm_source`` values for the site (``fb``, ``ig``, ``yt``); they are
not matched as hosts because short words make poor domain stems (``ig.com.br`` is not Instagram).

The patterns work on lower-cased text and use neither look-arounds nor backreferences, so DuckDB
(RE2) and Spark (Java regex) read them the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CATEGORIES",
    "CLICK_IDS",
    "EMAIL_SITES",
    "HOST_PATTERN",
    "PAYMENT_GATEWAYS",
    "SEARCH_SITES",
    "SHOPPING_SITES",
    "SOCIAL_SITES",
    "VIDEO_SITES",
    "Site",
    "click_id_pattern",
    "domain_pattern",
    "site_by_domain",
    "source_pattern",
]


@dataclass(frozen=True)
class Site:
    """One traffic source: its canonical name, the domains that identify it, and bare aliases."""

    name: str
    domains: tuple[str, ...]
    aliases: tuple[str, ...] = ()


SEARCH_SITES: Final[tuple[Site, ...]] = (
    # The Google app on Android refers as android-app://com.google.android.googlequicksearchbox.
    Site("google", ("google", "googlequicksearchbox")),
    Site("bing", ("bing",)),
    Site("yahoo", ("yahoo",)),
    Site("duckduckgo", ("duckduckgo", "ddg.gg")),
    Site("baidu", ("baidu",)),
    Site("yandex", ("yandex", "ya.ru")),
    Site("ecosia", ("ecosia",)),
    Site("naver", ("naver",)),
    Site("daum", ("daum",)),
    Site("seznam", ("seznam",)),
    Site("qwant", ("qwant",)),
    Site("startpage", ("startpage",)),
    Site("brave", ("search.brave.com",)),
    Site("sogou", ("sogou",)),
    Site("ask", ("ask.com",)),
    Site("aol", ("search.aol.com",), aliases=("aol",)),
    Site("mojeek", ("mojeek",)),
)

SOCIAL_SITES: Final[tuple[Site, ...]] = (
    Site("facebook", ("facebook", "fb", "messenger")),
    Site("instagram", ("instagram",), aliases=("ig",)),
    Site("linkedin", ("linkedin", "lnkd.in")),
    Site("twitter", ("twitter", "t.co", "x.com"), aliases=("x",)),
    Site("tiktok", ("tiktok",)),
    Site("pinterest", ("pinterest", "pin.it")),
    Site("reddit", ("reddit",)),
    Site("snapchat", ("snapchat",)),
    Site("whatsapp", ("whatsapp", "wa.me")),
    Site("telegram", ("telegram", "t.me")),
    Site("threads", ("threads.net",)),
    Site("tumblr", ("tumblr",)),
    Site("quora", ("quora",)),
    Site("vk", ("vk.com",)),
    Site("weibo", ("weibo",)),
    Site("line", ("line.me",)),
    Site("discord", ("discord", "discordapp")),
    Site("mastodon", ("mastodon.social",)),
    Site("bluesky", ("bsky.app",)),
    Site("xing", ("xing",)),
    Site("nextdoor", ("nextdoor",)),
)

VIDEO_SITES: Final[tuple[Site, ...]] = (
    Site("youtube", ("youtube", "youtu.be"), aliases=("yt",)),
    Site("vimeo", ("vimeo",)),
    Site("twitch", ("twitch",)),
    Site("dailymotion", ("dailymotion",)),
    Site("wistia", ("wistia",)),
    Site("bilibili", ("bilibili",)),
)

SHOPPING_SITES: Final[tuple[Site, ...]] = (
    Site("amazon", ("amazon",)),
    Site("ebay", ("ebay",)),
    Site("etsy", ("etsy",)),
    Site("shopify", ("shopify", "shop.app")),
    Site("walmart", ("walmart",)),
    Site("aliexpress", ("aliexpress",)),
    Site("alibaba", ("alibaba",)),
    Site("target", ("target.com",)),
    Site("bestbuy", ("bestbuy",)),
    Site("rakuten", ("rakuten",)),
    Site("mercadolibre", ("mercadolibre", "mercadolivre")),
    Site("zalando", ("zalando",)),
)

#: Webmail: a click from an email without UTMs still came from email (a journeylens extension;
#: GA4 would file ``mail.google.com`` under its search engine).
EMAIL_SITES: Final[tuple[Site, ...]] = (
    Site("gmail", ("mail.google.com", "com.google.android.gm", "gmail")),
    Site("outlook", ("outlook.live.com", "outlook.office.com", "outlook.office365.com", "outlook")),
    Site("yahoo_mail", ("mail.yahoo.com",)),
    Site("aol_mail", ("mail.aol.com",)),
    Site("proton_mail", ("mail.proton.me",)),
)

#: Where a checkout sends people to pay and back: the return visit is not a new touch.
PAYMENT_GATEWAYS: Final[tuple[Site, ...]] = (
    Site("paypal", ("paypal",)),
    Site("stripe", ("stripe",)),
    Site("klarna", ("klarna",)),
    Site("adyen", ("adyen",)),
    Site("afterpay", ("afterpay", "clearpay")),
    Site("affirm", ("affirm",)),
    Site("mollie", ("mollie",)),
    Site("sezzle", ("sezzle",)),
    Site("worldpay", ("worldpay",)),
    Site("braintree", ("braintreegateway",)),
    Site("google_pay", ("pay.google.com",)),
    Site("amazon_pay", ("pay.amazon.com",)),
)

#: The category each site list stands for, in the order a referrer host is looked up in them:
#: the specific hosts (``mail.google.com``) come before the engines they live under.
CATEGORIES: Final[dict[str, tuple[Site, ...]]] = {
    "email": EMAIL_SITES,
    "shopping": SHOPPING_SITES,
    "video": VIDEO_SITES,
    "social": SOCIAL_SITES,
    "search": SEARCH_SITES,
}

#: Ad click ids in a landing page URL, and the (source, medium) they stand for. ``fbclid`` maps to
#: ``facebook / social`` (Organic Social): Meta appends it to organic and paid outbound links alike,
#: so it does not prove a paid click. The others are only added to ad clicks.
CLICK_IDS: Final[dict[str, tuple[str, str]]] = {
    "gclid": ("google", "cpc"),
    "gbraid": ("google", "cpc"),
    "wbraid": ("google", "cpc"),
    "msclkid": ("bing", "cpc"),
    "yclid": ("yandex", "cpc"),
    "ttclid": ("tiktok", "cpc"),
    "twclid": ("twitter", "cpc"),
    "li_fat_id": ("linkedin", "cpc"),
    "sccid": ("snapchat", "cpc"),
    "fbclid": ("facebook", "social"),
}

#: The host of an absolute URL (any scheme, e.g. ``android-app://``), without ``www.`` and port;
#: group 1 of a search in lower-cased text.
HOST_PATTERN: Final = r"^[a-z][a-z0-9+.\-]*://(?:[^/?#@]*@)?(?:www\.)?([^/?#:@]+)"

# A public suffix as domains use them: one label (.com, .de) or a second-level one (.co.uk).
_SUFFIX = r"(?:\.(?:co|com|net|org|ac|or|ne|go|gov|gob|edu)\.[a-z]{2}|\.[a-z]{2,})"
_SUBDOMAINS = r"(?:[a-z0-9\-]+\.)*"


def _alternation(words: list[str]) -> str:
    # Longest first, so an alternation never stops at a shorter word that prefixes a longer one.
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def domain_pattern(sites: tuple[Site, ...]) -> str:
    """A regex whose group 1 is the domain of ``sites`` that a lower-cased host belongs to.

    Returns:
        A pattern; e.g. for ``SEARCH_SITES`` group 1 is ``"google"`` in ``news.google.co.uk`` and
        ``"search.brave.com"`` in ``search.brave.com``. A host domain may also take a suffix
        (``t.co.uk``): harmless, and it keeps the pattern one alternation.
    """
    domains = [d for site in sites for d in site.domains]
    return f"^{_SUBDOMAINS}({_alternation(domains)}){_SUFFIX}?$"


def source_pattern(sites: tuple[Site, ...]) -> str:
    """A regex matching a lower-cased ``utm_source`` or host that belongs to one of ``sites``.

    Returns:
        A pattern matching the site's hosts, their stems written bare, canonical names and
        aliases: ``google``, ``www.google.de``, ``fb``, ``m.facebook.com``, ``t.co``.
    """
    bare = [site.name for site in sites] + [a for site in sites for a in site.aliases]
    return f"(?:{domain_pattern(sites)})|^(?:{_alternation(bare)})$"


def site_by_domain(sites: tuple[Site, ...]) -> Mapping[str, str]:
    """Every domain of ``sites`` (as ``domain_pattern`` captures it) → the site's canonical name."""
    return {domain: site.name for site in sites for domain in site.domains}


def click_id_pattern() -> str:
    """A regex whose group 1 is the first ad click id (with a value) in a URL or query string.

    Returns:
        A pattern for click ids written in lower case, as the ad platforms write them; e.g. it
        captures ``"gclid"`` in ``/?a=1&gclid=Cj0``.
    """
    return rf"(?:^|[?&#;])({_alternation(list(CLICK_IDS))})=[^&#;\s]"
