"""GA4's default channel group: 18 rules on (source, medium, campaign), first match wins.

The rules are Google Analytics' published "[GA4] Default channel group" table for manually tagged
traffic (the platform-specific pre-rules for Google Ads, DV360 and SA360 are left out: journeylens
never sees those platforms' metadata). Every comparison is case-insensitive; anything no rule
matches is ``Unassigned``. "Search/social/video/shopping sites" are journeylens' own curated lists
in ``journeylens.enrich.sources``.

The table is data, in ``GA4_RULES``: one (channel, condition) row per rule, in GA4's order, so a
new revision of the rules is a new table rather than new branching code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import ibis
import ibis.expr.types as ir

from journeylens.enrich.sources import (
    SEARCH_SITES,
    SHOPPING_SITES,
    SOCIAL_SITES,
    VIDEO_SITES,
    source_pattern,
)

__all__ = [
    "GA4_RULES",
    "GA4_RULES_VERSION",
    "PAID_MEDIUM",
    "SHOPPING_CAMPAIGN",
    "TrafficFacts",
    "add_default_channel_group",
]

#: Which published revision ``GA4_RULES`` follows (the one with regex mediums, 2023 onward).
GA4_RULES_VERSION: Final = "ga4-2023"

#: GA4's "paid" medium: anything with "cp" in it (cpc, cpm, cpv, cpa), ppc, retargeting, paid*.
PAID_MEDIUM: Final = r"^(.*cp.*|ppc|retargeting|paid.*)$"
#: GA4's shopping campaign name: "shop" at a word-ish start (not "workshop") or "shopping".
SHOPPING_CAMPAIGN: Final = r"^(.*(([^a-df-z]|^)shop|shopping).*)$"

_DIRECT_MEDIUMS = ("(not set)", "(none)")
_DISPLAY_MEDIUMS = ("display", "banner", "expandable", "interstitial", "cpm")
_SOCIAL_MEDIUMS = (
    "social",
    "social-network",
    "social-media",
    "sm",
    "social network",
    "social media",
)
_REFERRAL_MEDIUMS = ("referral", "app", "link")
_EMAIL_WORDS = ("email", "e-mail", "e_mail", "e mail")


@dataclass(frozen=True)
class TrafficFacts:
    """What the rules test, as columns: lower-cased text and the regex tests each rule reuses."""

    source: ir.StringValue
    medium: ir.StringValue
    campaign: ir.StringValue
    paid: ir.BooleanValue
    shopping_campaign: ir.BooleanValue
    search_site: ir.BooleanValue
    social_site: ir.BooleanValue
    video_site: ir.BooleanValue
    shopping_site: ir.BooleanValue


Rule = tuple[str, Callable[[TrafficFacts], ir.BooleanValue]]

#: GA4's rules in order; the first whose condition holds names the channel.
GA4_RULES: Final[tuple[Rule, ...]] = (
    ("Direct", lambda f: (f.source == "(direct)") & f.medium.isin(_DIRECT_MEDIUMS)),
    ("Cross-network", lambda f: f.campaign.contains("cross-network")),
    ("Paid Shopping", lambda f: (f.shopping_site | f.shopping_campaign) & f.paid),
    ("Paid Search", lambda f: f.search_site & f.paid),
    ("Paid Social", lambda f: f.social_site & f.paid),
    ("Paid Video", lambda f: f.video_site & f.paid),
    ("Display", lambda f: f.medium.isin(_DISPLAY_MEDIUMS)),
    ("Paid Other", lambda f: f.paid),
    ("Organic Shopping", lambda f: f.shopping_site | f.shopping_campaign),
    ("Organic Social", lambda f: f.social_site | f.medium.isin(_SOCIAL_MEDIUMS)),
    ("Organic Video", lambda f: f.video_site | f.medium.contains("video")),
    ("Organic Search", lambda f: f.search_site | (f.medium == "organic")),
    ("Referral", lambda f: f.medium.isin(_REFERRAL_MEDIUMS)),
    ("Email", lambda f: f.source.isin(_EMAIL_WORDS) | f.medium.isin(_EMAIL_WORDS)),
    ("Affiliates", lambda f: f.medium == "affiliate"),
    ("Audio", lambda f: f.medium == "audio"),
    ("SMS", lambda f: (f.source == "sms") | (f.medium == "sms")),
    (
        "Mobile Push Notifications",
        lambda f: (
            f.medium.endswith("push")
            | f.medium.contains("mobile")
            | f.medium.contains("notification")
            | (f.source == "firebase")
        ),
    ),
)

_PREFIX = "_jl_ga4_"


def add_default_channel_group(
    table: ibis.Table,
    *,
    source_col: str,
    medium_col: str,
    campaign_col: str,
    out_col: str = "default_channel_group",
) -> ibis.Table:
    """Add GA4's default channel group of each row's (source, medium, campaign).

    A null source, medium or campaign reads as empty text, which no rule matches by itself.

    Returns:
        ``table`` plus ``out_col`` (string, never null): the first of ``GA4_RULES`` that
        matches, else ``"Unassigned"``.

    >>> import ibis
    >>> t = ibis.memtable({"s": ["google", "Newsletter", "criteo"], "m": ["cpc", "Email", "cpm"],
    ...                    "c": ["shopping_q4", None, None]})
    >>> add_default_channel_group(t, source_col="s", medium_col="m", campaign_col="c").to_pyarrow(
    ...     ).column("default_channel_group").to_pylist()
    ['Paid Shopping', 'Email', 'Display']
    """
    lowered = {
        "source": table[source_col].lower().fill_null(""),
        "medium": table[medium_col].lower().fill_null(""),
        "campaign": table[campaign_col].lower().fill_null(""),
    }
    # The regex tests become columns first so that each runs once per row, however many rules
    # reuse it.
    t = table.mutate(**{_PREFIX + k: v for k, v in lowered.items()})
    source, medium, campaign = (t[_PREFIX + k] for k in lowered)
    # Rule 1 settles (direct) traffic, most events in practice, before any regex is needed.
    direct = (source == "(direct)") & medium.isin(_DIRECT_MEDIUMS)
    tests = {
        "paid": medium.re_search(PAID_MEDIUM),
        "shopping_campaign": campaign.re_search(SHOPPING_CAMPAIGN),
        "search_site": source.re_search(source_pattern(SEARCH_SITES)),
        "social_site": source.re_search(source_pattern(SOCIAL_SITES)),
        "video_site": source.re_search(source_pattern(VIDEO_SITES)),
        "shopping_site": source.re_search(source_pattern(SHOPPING_SITES)),
    }
    t = t.mutate(**{_PREFIX + k: ibis.ifelse(direct, False, v) for k, v in tests.items()})
    facts = TrafficFacts(**{k: t[_PREFIX + k] for k in (*lowered, *tests)})
    group = ibis.cases(*((rule(facts), channel) for channel, rule in GA4_RULES), else_="Unassigned")
    helpers = [c for c in t.columns if c.startswith(_PREFIX)]
    return t.mutate(**{out_col: group}).drop(*helpers)
