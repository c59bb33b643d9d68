"""The channels a simulated visit can arrive through, how each one is tagged, and its true effect.

Every touch is emitted the way real traffic carries it, so that ``journeylens.enrich`` has to
*derive* the channel: UTM parameters (``context.campaign`` and ``utm_*`` in the page URL), a
referrer without UTMs (organic search, organic social, referral), nothing at all (direct), or an
explicit ``context.channel`` on first-party events (ESP, store, call centre). Every (source,
medium, campaign) below was checked against the GA4 default channel group rules, first match wins:

* ``google|bing|naver / cpc`` → Paid Search (search site + medium matching ``.*cp.*``)
* ``facebook|instagram|tiktok / paid_social`` → Paid Social (social site + ``paid.*``)
* ``instagram / social`` or a social referrer → Organic Social
* ``criteo|dv360 / display|banner`` → Display (sources on no Google site list)
* ``awin|impact|partnerize / affiliate`` → Affiliates
* ``partner_blog / referral`` or another site's referrer → Referral
* ``newsletter / email`` → Email; ``attentive / sms`` → SMS; ``braze / push`` → Mobile Push
* ``whatsapp / whatsapp`` → WhatsApp by journeylens' extension rule (GA4 alone would say Organic
  Social because whatsapp is on its social list)

No campaign name contains "shop"/"shopping" or "cross-network", which GA4 would route to the
shopping and cross-network channels first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from journeylens.schema import CHANNELS

__all__ = [
    "ACQUISITION",
    "CHANNEL_INDEX",
    "DEFAULT_EFFECTS",
    "MESSAGING",
    "TOUCHES",
    "Touch",
    "draw_touch",
    "touch_channel",
]


@dataclass(frozen=True)
class Touch:
    """One way a visit is tagged: UTM values (None = absent) and the referring URL."""

    channel: str
    source: str | None = None
    medium: str | None = None
    name: str | None = None
    term: str | None = None
    content: str | None = None
    referrer: str | None = None

    def campaign_json(self) -> str | None:
        """``context.campaign`` as JSON text, or None when the visit carries no UTMs."""
        if self.source is None:
            return None
        keys = ("name", "source", "medium", "term", "content")
        parts = [f'"{k}":"{getattr(self, k)}"' for k in keys if getattr(self, k) is not None]
        return "{" + ",".join(parts) + "}"

    def query(self) -> str:
        """The ``?utm_…`` query string analytics.js would parse the campaign from ("" if none)."""
        if self.source is None:
            return ""
        pairs = [("utm_source", self.source), ("utm_medium", self.medium)]
        pairs += [("utm_campaign", self.name), ("utm_term", self.term)]
        pairs += [("utm_content", self.content)]
        query = "&".join(f"{k}={v}" for k, v in pairs if v is not None)
        if self.source == "google" and self.medium == "cpc":
            query += "&gclid=EAIaIQobChMI"  # auto-tagging adds a click id; enrich may use it
        return "?" + query


#: The true incremental effect of each channel: the additive change in the probability that a
#: visit (a store visit, a call) ends in an order, relative to a Direct visit by the same person.
DEFAULT_EFFECTS: Final[dict[str, float]] = {
    "Direct": 0.0,
    "Organic Search": 0.03,
    "Paid Search": 0.05,
    "Paid Social": 0.025,
    "Organic Social": 0.01,
    "Display": -0.02,
    "Affiliates": 0.035,
    "Referral": 0.02,
    "Email": 0.06,
    "SMS": 0.045,
    "Mobile Push Notifications": 0.03,
    "WhatsApp": 0.05,
    "Offline Store": 0.35,
    "Call Centre": 0.15,
}

#: Share of self-initiated web visits arriving through each acquisition channel.
ACQUISITION: Final[dict[str, float]] = {
    "Direct": 0.30,
    "Organic Search": 0.22,
    "Paid Search": 0.13,
    "Paid Social": 0.08,
    "Organic Social": 0.07,
    "Display": 0.05,
    "Affiliates": 0.04,
    "Referral": 0.06,
}

#: Messaging channels: context.channel value on ESP events and the touch of a click-through.
MESSAGING: Final[dict[str, str]] = {
    "Email": "email",
    "SMS": "sms",
    "Mobile Push Notifications": "push",
    "WhatsApp": "whatsapp",
}

_SEARCH_REFERRERS = ("https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/")
_SOCIAL_REFERRERS = ("https://www.facebook.com/", "https://t.co/", "https://www.linkedin.com/")
_OTHER_REFERRERS = ("https://www.wirecutter.com/gifts/", "https://news.example.org/best-of-2026")


def _touches() -> tuple[Touch, ...]:
    t: list[Touch] = [Touch("Direct")]
    t += [Touch("Organic Search", referrer=r) for r in _SEARCH_REFERRERS]
    t += [Touch("Organic Search", referrer="https://search.naver.com/")]
    for source in ("google", "google", "bing", "naver"):
        for name, term in (("brand_search", "example shop"), ("generic_search", "running shoes")):
            t.append(Touch("Paid Search", source, "cpc", name, term, referrer=None))
    for source in ("facebook", "instagram", "tiktok"):
        for name in ("spring_sale_social", "retarget_cart_social"):
            t.append(Touch("Paid Social", source, "paid_social", name, content="video_15s"))
    t += [Touch("Organic Social", referrer=r) for r in _SOCIAL_REFERRERS]
    t.append(Touch("Organic Social", "instagram", "social", "creator_post"))
    for source, medium in (("criteo", "display"), ("dv360", "banner")):
        t.append(Touch("Display", source, medium, "prospecting_display", content="300x250"))
    for source in ("awin", "impact", "partnerize"):
        t.append(Touch("Affiliates", source, "affiliate", "partner_program"))
    t += [Touch("Referral", referrer=r) for r in _OTHER_REFERRERS]
    t.append(Touch("Referral", "partner_blog", "referral", "gift_guide"))
    for name in ("weekly_newsletter", "new_arrivals", "cart_reminder", "winback_offer"):
        t.append(Touch("Email", "newsletter", "email", name))
    for name in ("flash_sale_sms", "order_update_sms"):
        t.append(Touch("SMS", "attentive", "sms", name))
    for name in ("price_drop_push", "back_in_stock_push"):
        t.append(Touch("Mobile Push Notifications", "braze", "push", name))
    for name in ("vip_offer_wa", "restock_wa"):
        t.append(Touch("WhatsApp", "whatsapp", "whatsapp", name))
    # First-party channels: named by context.channel on the POS / CTI events, never by UTMs.
    t += [Touch("Offline Store"), Touch("Call Centre")]
    return tuple(t)


#: Every touch, in a fixed order; a visit stores the index of its touch.
TOUCHES: Final[tuple[Touch, ...]] = _touches()

#: Position of every channel name in ``journeylens.schema.CHANNELS``.
CHANNEL_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(CHANNELS)}

_TOUCH_CHANNEL = np.array([CHANNEL_INDEX[t.channel] for t in TOUCHES])
_BY_CHANNEL = {c: np.flatnonzero(c == _TOUCH_CHANNEL) for c in np.unique(_TOUCH_CHANNEL).tolist()}


def draw_touch(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    """A random touch index for each visit, among the touches of its channel.

    ``channel`` holds positions in ``CHANNELS``; every value must have at least one touch.
    """
    out = np.empty(len(channel), dtype=np.int64)
    u = rng.random(len(channel))
    for c, options in _BY_CHANNEL.items():
        rows = channel == c
        out[rows] = options[(u[rows] * len(options)).astype(np.int64)]
    return out


def touch_channel(touch: np.ndarray) -> np.ndarray:
    """The ``CHANNELS`` position of each touch index."""
    return _TOUCH_CHANNEL[touch]
