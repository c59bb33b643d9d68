"""HTTP webhooks: a journey's ``webhook`` node, and SMS, push, web push and WhatsApp providers.

Every request is a JSON ``POST`` (a webhook node may ask for ``PUT``) with the send's key in an
``Idempotency-Key`` header, the convention of payment and messaging APIs for "the same request
again, do it once". Provider payloads follow the shape of the common providers, so a thin relay
(or the provider itself) can take them as they are:

``sms``
    ``{"to": phone, "body": text, "reference": key}`` (Twilio-style message resource).
``push``
    ``{"message": {"external_user_id": person_id, "notification": {"title", "body"},
    "data": {..., "journey_id", "node_id"}}}`` (FCM HTTP v1 ``message`` with the person id as
    the provider's external user id).
``web_push``
    ``{"include_external_user_ids": [person_id], "headings": {"en": title}, "contents":
    {"en": body}, "url": url}`` (OneSignal-style notification).
``whatsapp``
    ``{"messaging_product": "whatsapp", "to": phone, "type": "text", "text": {"body": text}}``,
    or ``"type": "template"`` with ``{"template": {"name", "language": {"code": "en"}}}``
    (Meta Cloud API).
``webhook``
    the node's ``body`` with ``person_id``, ``journey_id``, ``journey_version`` and ``node_id``
    added, to the node's own ``url``.

Answers decide retries: 2xx is sent; 408, 429 and 5xx, a timeout or a refused connection are
transient; any other status is permanent (the request itself is wrong and would fail again).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final

from journeylens.activate.channels.base import Delivery, OutboundMessage, permanent, transient

__all__ = ["PROVIDER_SHAPES", "WebhookChannel", "provider_payload"]

#: Statuses that say "try again later".
_TRANSIENT: Final = frozenset({408, 425, 429})


def _title(message: OutboundMessage) -> str:
    payload = message.payload
    return payload.get("subject") or payload.get("template") or message.journey_id


def _text(message: OutboundMessage) -> str:
    payload = message.payload
    return payload.get("body") or f"[template {payload.get('template')}]"


def _meta(message: OutboundMessage) -> dict[str, Any]:
    return {
        "journey_id": message.journey_id,
        "journey_version": message.journey_version,
        "node_id": message.node_id,
    }


def _sms(message: OutboundMessage) -> dict[str, Any]:
    return {"to": message.recipient, "body": _text(message), "reference": message.idempotency_key}


def _push(message: OutboundMessage) -> dict[str, Any]:
    data = {**message.payload.get("data", {}), **_meta(message)}
    if message.payload.get("url"):
        data["url"] = message.payload["url"]
    notification = {"title": _title(message), "body": _text(message)}
    return {
        "message": {
            "external_user_id": message.recipient,
            "notification": notification,
            "data": data,
        }
    }


def _web_push(message: OutboundMessage) -> dict[str, Any]:
    return {
        "include_external_user_ids": [message.recipient],
        "headings": {"en": _title(message)},
        "contents": {"en": _text(message)},
        "url": message.payload.get("url"),
        "data": {**message.payload.get("data", {}), **_meta(message)},
    }


def _whatsapp(message: OutboundMessage) -> dict[str, Any]:
    body: dict[str, Any] = {"messaging_product": "whatsapp", "to": message.recipient}
    template = message.payload.get("template")
    if template and not message.payload.get("body"):
        return body | {
            "type": "template",
            "template": {"name": template, "language": {"code": "en"}},
        }
    return body | {"type": "text", "text": {"body": _text(message)}}


def _webhook(message: OutboundMessage) -> dict[str, Any]:
    return {**message.payload.get("body", {}), "person_id": message.person_id, **_meta(message)}


#: Channel -> the JSON body its provider takes.
PROVIDER_SHAPES: Final[dict[str, Callable[[OutboundMessage], dict[str, Any]]]] = {
    "sms": _sms,
    "push": _push,
    "web_push": _web_push,
    "whatsapp": _whatsapp,
    "webhook": _webhook,
}


def provider_payload(message: OutboundMessage) -> dict[str, Any]:
    """The JSON body for ``message`` in its channel's provider shape (see the module docstring).

    >>> m = OutboundMessage("k1", "sms", "p1", "+447700900001", "cart", "v1", "sms",
    ...                     {"body": "Still thinking?"})
    >>> provider_payload(m)
    {'to': '+447700900001', 'body': 'Still thinking?', 'reference': 'k1'}
    """
    return PROVIDER_SHAPES[message.channel](message)


class WebhookChannel:
    """Posts messages of one channel to a provider URL (for the ``webhook`` channel, to each
    node's own URL: pass ``url=None``)."""

    def __init__(self, channel: str, url: str | None, *, timeout_seconds: float = 10.0) -> None:
        if channel not in PROVIDER_SHAPES:
            raise ValueError(f"no provider shape for channel {channel!r}")
        self.channel = channel
        self.url = url
        self.timeout_seconds = timeout_seconds

    def send(self, message: OutboundMessage) -> Delivery:
        """POST the provider payload. Returns ``sent`` with the provider's message id (from the
        answer's ``id``, ``message_id``, ``sid``, ``name`` or ``messages[0].id``) or the failure,
        transient or permanent by status."""
        # A webhook node names its own URL; for the others ``payload.url`` is the link in the
        # message, and the provider's URL comes from the settings.
        url = message.payload.get("url") if self.channel == "webhook" else self.url
        if not url:
            return permanent(f"no provider URL for channel {self.channel!r} (settings.channels)")
        if self.channel in ("sms", "whatsapp") and not message.recipient:
            return permanent("the person has no phone number (trait 'phone')")
        method = message.payload.get("method", "POST") if self.channel == "webhook" else "POST"
        request = urllib.request.Request(
            url,
            data=json.dumps(provider_payload(message), default=str).encode(),
            method=method,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": message.idempotency_key,
                "User-Agent": "journeylens",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:
                return Delivery("sent", provider_message_id=_provider_id(answer.read()))
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code} from {url}: {_snippet(exc.read())}"
            if exc.code in _TRANSIENT or exc.code >= 500:
                return transient(error)
            return permanent(error)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return transient(f"{url}: {type(exc).__name__}: {reason}")


def _provider_id(body: bytes) -> str | None:
    try:
        found = json.loads(body) if body else None
    except ValueError:
        return None
    if not isinstance(found, Mapping):
        return None
    for key in ("id", "message_id", "sid", "name"):
        if isinstance(found.get(key), str | int):
            return str(found[key])
    messages = found.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], Mapping):
        first = messages[0].get("id")
        return None if first is None else str(first)
    return None


def _snippet(body: bytes) -> str:
    return body[:200].decode(errors="replace")
