"""GA4's default channel group, rule by rule, with the order conflicts and case-insensitivity."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from journeylens.enrich.ga4 import GA4_RULES, add_default_channel_group
from journeylens.schema import CHANNELS

# (source, medium, campaign, expected channel, why)
CASES: list[tuple[str | None, str | None, str | None, str, str]] = [
    ("(direct)", "(none)", None, "Direct", "rule 1"),
    ("(direct)", "(not set)", None, "Direct", "rule 1, medium not set"),
    ("(DIRECT)", "(None)", None, "Direct", "rule 1 ignores case"),
    ("(direct)", "cpc", None, "Paid Other", "direct source with a paid medium is not Direct"),
    ("google", "cpc", "Brand Cross-Network PMax", "Cross-network", "rule 2 beats Paid Search"),
    ("amazon", "cpc", None, "Paid Shopping", "rule 3, shopping site"),
    ("google", "cpc", "Shopping_Brand", "Paid Shopping", "rule 3 campaign beats Paid Search"),
    ("google", "cpc", "eshop_sale", "Paid Shopping", "rule 3: 'shop' after 'e' counts"),
    ("google", "cpc", "workshop_promo", "Paid Search", "rule 3: 'workshop' is not shopping"),
    ("newsletter", "paid", "spring-shop", "Paid Shopping", "rule 3, campaign and paid.*"),
    ("google", "cpc", None, "Paid Search", "rule 4"),
    ("Bing", "PPC", None, "Paid Search", "rule 4 ignores case"),
    ("www.google.co.uk", "paidsearch", None, "Paid Search", "rule 4, search host"),
    ("google", "cpm", None, "Paid Search", "rule 4 beats Display for a search site"),
    ("facebook", "paid_social", None, "Paid Social", "rule 5"),
    ("ig", "cpc", None, "Paid Social", "rule 5, alias"),
    ("youtube", "cpv", None, "Paid Video", "rule 6"),
    ("criteo", "display", None, "Display", "rule 7"),
    ("dv360", "Banner", None, "Display", "rule 7 ignores case"),
    ("criteo", "cpm", None, "Display", "rule 7 beats Paid Other"),
    ("partner", "cpa", None, "Paid Other", "rule 8"),
    ("newsletter", "retargeting", None, "Paid Other", "rule 8, retargeting"),
    ("ebay", "referral", None, "Organic Shopping", "rule 9, shopping site"),
    ("partner", "referral", "holiday shop", "Organic Shopping", "rule 9, campaign"),
    ("facebook", "referral", None, "Organic Social", "rule 10, social site"),
    ("newsletter", "social-network", None, "Organic Social", "rule 10, social medium"),
    ("blog", "SM", None, "Organic Social", "rule 10, 'sm'"),
    ("whatsapp", "whatsapp", None, "Organic Social", "GA4 alone: whatsapp is a social site"),
    ("vimeo", "referral", None, "Organic Video", "rule 11, video site"),
    ("blog", "video_embed", None, "Organic Video", "rule 11, video medium"),
    ("google", "organic", None, "Organic Search", "rule 12"),
    ("duckduckgo", "referral", None, "Organic Search", "rule 12, search site"),
    ("partner", "organic", None, "Organic Search", "rule 12, organic medium"),
    ("email", "organic", None, "Organic Search", "rule 12 beats Email"),
    ("wirecutter.com", "referral", None, "Referral", "rule 13"),
    ("partner", "app", None, "Referral", "rule 13, app"),
    ("partner", "link", None, "Referral", "rule 13, link"),
    ("newsletter", "email", None, "Email", "rule 14, medium"),
    ("E-Mail", "(not set)", None, "Email", "rule 14, source, any case"),
    ("crm", "e mail", None, "Email", "rule 14, 'e mail'"),
    ("awin", "affiliate", None, "Affiliates", "rule 15"),
    ("awin", "affiliates", None, "Unassigned", "rule 15 is an exact match"),
    ("spotify", "audio", None, "Audio", "rule 16"),
    ("sms", "(not set)", None, "SMS", "rule 17, source"),
    ("attentive", "SMS", None, "SMS", "rule 17, medium"),
    ("sms", "social", None, "Organic Social", "rule 10 beats SMS"),
    ("braze", "push", None, "Mobile Push Notifications", "rule 18, ends with push"),
    ("braze", "web-push", None, "Mobile Push Notifications", "rule 18, GA4 has no web push"),
    ("app", "mobile", None, "Mobile Push Notifications", "rule 18, mobile"),
    ("braze", "in-app notification", None, "Mobile Push Notifications", "rule 18, notification"),
    ("firebase", "(not set)", None, "Mobile Push Notifications", "rule 18, firebase"),
    ("partner", "(not set)", None, "Unassigned", "nothing matches"),
    ("newsletter", "qr_code", None, "Unassigned", "unknown medium"),
    (None, None, None, "Unassigned", "nothing at all"),
]


@pytest.fixture(scope="module")
def classified(duck: ibis.BaseBackend) -> pd.DataFrame:
    frame = pd.DataFrame(
        [(i, s, m, c) for i, (s, m, c, _, _) in enumerate(CASES)],
        columns=["case", "source", "medium", "campaign"],
    )
    table = ibis.memtable(
        frame,
        schema={"case": "int64", "source": "string", "medium": "string", "campaign": "string"},
    )
    out = add_default_channel_group(
        table, source_col="source", medium_col="medium", campaign_col="campaign"
    )
    return duck.execute(out).set_index("case").sort_index()


@pytest.mark.parametrize(
    ("case", "expected"),
    [(i, case[3]) for i, case in enumerate(CASES)],
    ids=[f"{c[0]}/{c[1]}/{c[2]} -> {c[3]} ({c[4]})" for c in CASES],
)
def test_each_rule_gives_the_ga4_channel(
    classified: pd.DataFrame, case: int, expected: str
) -> None:
    assert classified.loc[case, "default_channel_group"] == expected


def test_every_rule_is_exercised_and_names_a_known_channel(classified: pd.DataFrame) -> None:
    rule_channels = [channel for channel, _ in GA4_RULES]
    assert len(rule_channels) == 18
    assert set(rule_channels) <= set(CHANNELS)
    assert set(classified.default_channel_group) == {*rule_channels, "Unassigned"}


def test_the_helper_columns_do_not_leak(classified: pd.DataFrame) -> None:
    assert list(classified.columns) == ["source", "medium", "campaign", "default_channel_group"]
