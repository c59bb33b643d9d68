"""The channel of every touch: GA4's default channel group plus journeylens' first-party channels.

A *touch* is an event that says how the person reached the brand: UTM tags, an ad click id, an
external referrer (see ``journeylens.enrich.traffic``) or an explicit first-party channel. Its
channel is decided in this order:

1. ``context.channel`` naming a first-party channel (``schema.EXPLICIT_CHANNELS``: ``email``,
   ``sms``, ``push``, ``whatsapp``, ``in_app``, ``store``, ``call_centre`` …), as ESP, POS and CTI
   imports and journeylens' own sends set it. Other values (``browser``, ``server``) are ignored.
2. A medium GA4 has no channel for (``MEDIUM_CHANNELS``): ``whatsapp`` → WhatsApp rather than
   GA4's Organic Social, ``web_push`` → Web Push, ``in_app`` → In-App.
3. Otherwise GA4's default channel group (``journeylens.enrich.ga4``).

An event that carries no touch (a page view inside a visit, a server-side track call) has no
touch channel; ``enrich`` gives it the channel its session was acquired through.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import ibis

from journeylens.enrich._tables import JSON_COLUMN, require_columns
from journeylens.enrich.ga4 import add_default_channel_group
from journeylens.enrich.traffic import TOUCH_COL, add_traffic
from journeylens.jsontext import with_json_text
from journeylens.schema import EXPLICIT_CHANNELS

__all__ = ["MEDIUM_CHANNELS", "classify_channels"]

#: Mediums (lower-cased) that name a journeylens channel outright, checked before GA4's rules.
MEDIUM_CHANNELS: Final[dict[str, str]] = {
    "whatsapp": "WhatsApp",
    "web_push": "Web Push",
    "web-push": "Web Push",
    "webpush": "Web Push",
    "in_app": "In-App",
    "in-app": "In-App",
}


def classify_channels(events: ibis.Table, *, own_domains: Sequence[str] = ()) -> ibis.Table:
    """Add the traffic source, GA4 channel group and touch channel of every event.

    Args:
        events: Canonical events (``context`` and ``properties`` as JSON or JSON text).
        own_domains: The site's own domains; referrals from them (and their subdomains) are not
            touches. Referrals from the page's own host never are.

    Returns:
        ``events`` plus:

        - ``utm_source``, ``utm_medium`` (strings, never null): the derived source and medium,
          ``(direct)`` / ``(none)`` when the event carries no traffic information;
        - ``utm_campaign`` (string or null): the UTM campaign name;
        - ``default_channel_group`` (never null): GA4's channel for that source, medium and
          campaign, one of ``schema.CHANNELS`` up to ``Mobile Push Notifications``, or
          ``Unassigned``; ``Direct`` for an event without traffic information;
        - ``touch_channel`` (string or null): the journeylens channel of the touch, one of
          ``schema.CHANNELS``; null when the event is not a touch.

    >>> import ibis
    >>> ev = ibis.memtable({"context": ['{"campaign": {"source": "google", "medium": "cpc"}}',
    ...                                 '{"channel": "sms"}', '{}'],
    ...                     "properties": ["{}", "{}", "{}"]})
    >>> classify_channels(ev).touch_channel.to_list()
    ['Paid Search', 'SMS', None]
    """
    require_columns(
        events, {"context": JSON_COLUMN, "properties": JSON_COLUMN}, step="classify_channels"
    )
    explicit_col = "_jl_ch_explicit"
    t = with_json_text(
        add_traffic(events, own_domains=own_domains),
        **{explicit_col: events.context.cast("json")["channel"]},
    )
    t = t.mutate(**{explicit_col: t[explicit_col].lower()})
    t = add_default_channel_group(
        t, source_col="utm_source", medium_col="utm_medium", campaign_col="utm_campaign"
    )
    explicit = t[explicit_col].cases(*EXPLICIT_CHANNELS.items(), else_=None)
    by_medium = t.utm_medium.lower().cases(*MEDIUM_CHANNELS.items(), else_=None)
    is_touch = t[TOUCH_COL]
    touch = ibis.cases(
        (explicit.notnull(), explicit),
        (is_touch & by_medium.notnull(), by_medium),
        (is_touch, t.default_channel_group),
        else_=ibis.null("string"),
    )
    return t.mutate(touch_channel=touch).drop(explicit_col, TOUCH_COL)
