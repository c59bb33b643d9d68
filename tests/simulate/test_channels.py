import re

from journeylens.schema import CHANNELS
from journeylens.simulate.channels import ACQUISITION, DEFAULT_EFFECTS, MESSAGING, TOUCHES

# Just enough of the GA4 default channel group (first match wins) to check our tagging.
SEARCH = {"google", "bing", "naver", "duckduckgo"}
SOCIAL = {"facebook", "instagram", "tiktok", "linkedin", "t.co", "whatsapp"}
PAID = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
SHOP = re.compile(r"^(.*(([^a-df-z]|^)shop|shopping).*)$")


def _ga4(source: str, medium: str, name: str) -> str:
    if medium == "whatsapp":  # journeylens' extension rule, before GA4's
        return "WhatsApp"
    if "cross-network" in name or SHOP.match(name):
        return "shopping or cross-network"
    if source in SEARCH and PAID.match(medium):
        return "Paid Search"
    if source in SOCIAL and PAID.match(medium):
        return "Paid Social"
    if medium in {"display", "banner", "expandable", "interstitial", "cpm"}:
        return "Display"
    if PAID.match(medium):
        return "Paid Other"
    if source in SOCIAL or medium == "social":
        return "Organic Social"
    if source in SEARCH or medium == "organic":
        return "Organic Search"
    if medium in {"referral", "app", "link"}:
        return "Referral"
    if "email" in (source, medium):
        return "Email"
    if medium == "affiliate":
        return "Affiliates"
    if "sms" in (source, medium):
        return "SMS"
    if medium.endswith("push"):
        return "Mobile Push Notifications"
    return "Unassigned"


def _from_referrer(url: str) -> str:
    host = re.sub(r"^https://(www\.|search\.)?", "", url).split("/")[0].rsplit(".", 1)[0]
    if host in SEARCH:
        return "Organic Search"
    return "Organic Social" if host in SOCIAL or host == "t" else "Referral"


def test_every_utm_tagged_touch_is_classified_into_its_intended_channel():
    for touch in TOUCHES:
        if touch.source is not None:
            assert _ga4(touch.source, touch.medium, touch.name or "") == touch.channel, touch


def test_untagged_touches_are_classified_by_their_referrer():
    for touch in TOUCHES:
        if touch.source is None and touch.referrer is not None:
            assert _from_referrer(touch.referrer) == touch.channel, touch


def test_every_channel_name_is_a_schema_channel():
    names = {t.channel for t in TOUCHES} | set(DEFAULT_EFFECTS) | set(ACQUISITION)
    assert names <= set(CHANNELS)
    assert set(MESSAGING) <= set(DEFAULT_EFFECTS)


def test_campaign_json_and_query_agree():
    touch = next(t for t in TOUCHES if t.channel == "Paid Search")
    assert f"utm_source={touch.source}" in touch.query()
    assert f'"source":"{touch.source}"' in touch.campaign_json()
