"""Source/medium derivation (UTMs, click ids, referrers) and the touch channel of every event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import pandas as pd
import pytest

from journeylens.enrich import classify_channels
from journeylens.errors import ValidationError
from journeylens.schema import CHANNELS

EventsBuilder = Callable[[list[dict[str, Any]]], ibis.Table]

SITE = "https://shop.example.com/"


def page(url: str = SITE, referrer: str | None = None, **context: Any) -> dict[str, Any]:
    """A page event's context as analytics.js fills it."""
    fields = {"url": url, **({"referrer": referrer} if referrer is not None else {})}
    return {"context": {"page": fields, **context}, "type": "page"}


def classify(
    duck: ibis.BaseBackend, make_events: EventsBuilder, rows: list[dict[str, Any]], **kwargs: Any
) -> pd.DataFrame:
    out = classify_channels(make_events(rows), **kwargs)
    return duck.execute(out.order_by("message_id"))


# (event, utm_source, utm_medium, utm_campaign, touch_channel, why)
DERIVATIONS: list[tuple[dict[str, Any], str, str, str | None, str | None, str]] = [
    (
        page(campaign={"source": "Google", "medium": "CPC", "name": "Brand"}),
        "Google",
        "CPC",
        "Brand",
        "Paid Search",
        "context.campaign wins and keeps its case",
    ),
    (
        page(SITE + "?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale"),
        "newsletter",
        "email",
        "spring_sale",
        "Email",
        "UTMs in the page URL when context.campaign is absent",
    ),
    (
        page(campaign={"source": "partner"}),
        "partner",
        "(not set)",
        None,
        "Unassigned",
        "a source without a medium",
    ),
    (
        page(SITE + "?gclid=Cj0KCQ", referrer="https://www.google.com/"),
        "google",
        "cpc",
        None,
        "Paid Search",
        "a click id beats the referrer",
    ),
    (
        page(SITE + "?utm_source=newsletter&utm_medium=email&gclid=1"),
        "newsletter",
        "email",
        None,
        "Email",
        "UTMs beat a click id",
    ),
    (page(SITE + "?msclkid=9f"), "bing", "cpc", None, "Paid Search", "msclkid"),
    (page(SITE + "?fbclid=IwAR"), "facebook", "social", None, "Organic Social", "fbclid"),
    (
        {"context": {"page": {"search": "?ttclid=E.C.P"}}},
        "tiktok",
        "cpc",
        None,
        "Paid Social",
        "click id in context.page.search",
    ),
    (
        page(referrer="https://www.google.co.uk/search?q=shoes"),
        "google",
        "organic",
        None,
        "Organic Search",
        "search engine referrer",
    ),
    (
        page(referrer="https://search.naver.com/"),
        "naver",
        "organic",
        None,
        "Organic Search",
        "search engine on a subdomain",
    ),
    (
        page(referrer="https://l.facebook.com/l.php?u=x"),
        "facebook",
        "social",
        None,
        "Organic Social",
        "social referrer",
    ),
    (page(referrer="https://t.co/abc"), "twitter", "social", None, "Organic Social", "t.co"),
    (
        page(referrer="https://www.youtube.com/watch?v=1"),
        "youtube",
        "referral",
        None,
        "Organic Video",
        "video referrer",
    ),
    (
        page(referrer="https://www.amazon.de/dp/1"),
        "amazon",
        "referral",
        None,
        "Organic Shopping",
        "shopping referrer",
    ),
    (
        page(referrer="https://mail.google.com/mail/u/0/"),
        "gmail",
        "email",
        None,
        "Email",
        "webmail is email, not Google search",
    ),
    (
        page(referrer="https://www.wirecutter.com/gifts/"),
        "wirecutter.com",
        "referral",
        None,
        "Referral",
        "any other site, www dropped",
    ),
    (page(), "(direct)", "(none)", None, None, "no referrer is no touch"),
    (
        page(referrer=SITE + "cart"),
        "(direct)",
        "(none)",
        None,
        None,
        "a referral from the page's own host is no touch",
    ),
    (
        page(referrer="https://www.paypal.com/checkoutnow"),
        "(direct)",
        "(none)",
        None,
        None,
        "a payment gateway's return is no touch",
    ),
    (
        {"properties": {"url": SITE, "referrer": "https://duckduckgo.com/"}, "type": "page"},
        "duckduckgo",
        "organic",
        None,
        "Organic Search",
        "server-side page call with page fields in properties",
    ),
    (
        {"event": "Order Completed"},
        "(direct)",
        "(none)",
        None,
        None,
        "a track call without page fields is no touch",
    ),
    (
        {"context": None, "properties": None},
        "(direct)",
        "(none)",
        None,
        None,
        "null JSON columns are no touch",
    ),
    (
        page(campaign={"source": None, "medium": "null", "name": ""}),
        "(direct)",
        "(none)",
        None,
        None,
        "JSON null, the text null and empty text count as absent",
    ),
]


@pytest.fixture(scope="module")
def derived(duck: ibis.BaseBackend, make_events: EventsBuilder) -> pd.DataFrame:
    # One query for every case keeps the module fast; each case is still its own test.
    return classify(duck, make_events, [d[0] for d in DERIVATIONS])


@pytest.mark.parametrize(
    ("case", "source", "medium", "campaign", "touch"),
    [(i, *d[1:5]) for i, d in enumerate(DERIVATIONS)],
    ids=[d[5] for d in DERIVATIONS],
)
def test_source_medium_and_touch_channel_are_derived_in_ga_order(
    derived: pd.DataFrame,
    case: int,
    source: str,
    medium: str,
    campaign: str | None,
    touch: str | None,
) -> None:
    out = derived.iloc[case]
    assert (out.utm_source, out.utm_medium) == (source, medium)
    assert (None if pd.isna(out.utm_campaign) else out.utm_campaign) == campaign
    assert (None if pd.isna(out.touch_channel) else out.touch_channel) == touch


def test_an_event_without_a_touch_is_direct_in_ga4_terms(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    out = classify(duck, make_events, [page()])
    assert out.default_channel_group.tolist() == ["Direct"]


EXPLICIT = {
    "email": "Email",
    "SMS": "SMS",
    "push": "Mobile Push Notifications",
    "web_push": "Web Push",
    "whatsapp": "WhatsApp",
    "in_app": "In-App",
    "store": "Offline Store",
    "call_center": "Call Centre",
    "call_centre": "Call Centre",
}


def test_an_explicit_first_party_channel_beats_everything_else(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    rows = [
        page(SITE + "?gclid=1", referrer="https://www.google.com/", channel=channel)
        for channel in EXPLICIT
    ]
    assert classify(duck, make_events, rows).touch_channel.tolist() == list(EXPLICIT.values())


def test_a_context_channel_that_names_no_first_party_channel_is_ignored(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    rows = [page(channel="browser"), page(referrer="https://bing.com/", channel="server")]
    touch = classify(duck, make_events, rows).touch_channel
    assert pd.isna(touch.iloc[0])
    assert touch.iloc[1] == "Organic Search"


def test_a_medium_ga4_has_no_channel_for_gets_the_journeylens_channel(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    mediums = {"whatsapp": "WhatsApp", "WhatsApp": "WhatsApp", "web_push": "Web Push"}
    rows = [page(campaign={"source": "wa", "medium": medium}) for medium in mediums]
    assert classify(duck, make_events, rows).touch_channel.tolist() == list(mediums.values())


def test_referrals_from_own_domains_and_their_subdomains_are_not_touches(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    rows = [
        page(referrer="https://blog.example.com/post"),
        page(referrer="https://www.example.com/"),
        page(referrer="https://notexample.com/"),
    ]
    out = classify(duck, make_events, rows, own_domains=["www.Example.com"])
    assert out.touch_channel.isna().tolist() == [True, True, False]
    assert out.utm_source.tolist()[2] == "notexample.com"


def test_every_touch_channel_is_a_known_channel(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    out = classify(duck, make_events, [d[0] for d in DERIVATIONS])
    assert set(out.touch_channel.dropna()) <= set(CHANNELS)
    assert set(out.default_channel_group) <= set(CHANNELS)


def test_json_typed_columns_give_the_same_result_as_json_text(
    duck: ibis.BaseBackend, make_events: EventsBuilder
) -> None:
    rows = [d[0] for d in DERIVATIONS]
    as_text = make_events(rows)
    as_json = as_text.mutate(context=as_text.context.cast("json"))
    columns = ["message_id", "utm_source", "utm_medium", "touch_channel"]
    text_out = duck.execute(classify_channels(as_text).select(columns).order_by("message_id"))
    json_out = duck.execute(classify_channels(as_json).select(columns).order_by("message_id"))
    pd.testing.assert_frame_equal(text_out, json_out)


def test_a_table_without_context_is_refused_with_the_missing_column_named(
    make_events: EventsBuilder,
) -> None:
    events = make_events([page()]).drop("context")
    with pytest.raises(ValidationError, match=r"classify_channels needs columns.*context"):
        classify_channels(events)


def test_a_context_column_of_the_wrong_type_is_refused(make_events: EventsBuilder) -> None:
    events = make_events([page()]).mutate(context=ibis.literal(1))
    with pytest.raises(ValidationError, match="context must be JSON or JSON text"):
        classify_channels(events)
