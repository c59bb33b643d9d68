"""The one protocol every channel plugin follows, and the values that cross it.

The runner hands a channel one :class:`OutboundMessage` (a row of the outbox) and gets back one
:class:`Delivery`. A channel never raises for a failed send: what went wrong is a value, so it is
recorded on that message alone (one provider rejection never marks a batch) and the runner
decides about retries. Transient failures (a 5xx answer, 429, a timeout, a refused connection)
are retried with backoff; permanent ones (any other 4xx, a missing address) are not.

Every message carries its ``idempotency_key``: the same step of the same journey instance always
has the same key, so a send retried after a crash can be recognised by the provider (the
``Idempotency-Key`` header, the e-mail ``Message-ID``) and by the recording channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "Channel",
    "Delivery",
    "DeliveryStatus",
    "OutboundMessage",
    "permanent",
    "transient",
]

DeliveryStatus = Literal["sent", "transient_failure", "permanent_failure"]


@dataclass(frozen=True)
class OutboundMessage:
    """One message to send.

    Attributes:
        idempotency_key: the send's stable key (the engine's ``Action.idempotency_key``).
        channel: ``email``, ``sms``, ``push``, ``web_push``, ``whatsapp`` or ``webhook``.
        person_id: who it is for.
        recipient: the address on that channel (an e-mail address, a phone number; the
            person id for push channels, which providers map to devices); None if unknown.
        journey_id, journey_version, node_id: where in which journey it was decided.
        payload: the node's content (``template``, ``subject``, ``body``, ``url``, ``data``;
            for webhooks ``url``, ``method`` and ``body``).
    """

    idempotency_key: str
    channel: str
    person_id: str
    recipient: str | None
    journey_id: str
    journey_version: str
    node_id: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """What happened to one send attempt.

    Attributes:
        status: ``sent`` (the provider accepted it), ``transient_failure`` (worth retrying)
            or ``permanent_failure`` (retrying cannot help).
        provider_message_id: the provider's id of the message, when it gave one.
        error: why it failed, in words (None when sent).
    """

    status: DeliveryStatus
    provider_message_id: str | None = None
    error: str | None = None


def transient(error: str) -> Delivery:
    """A failure worth retrying."""
    return Delivery("transient_failure", error=error)


def permanent(error: str) -> Delivery:
    """A failure retrying cannot fix."""
    return Delivery("permanent_failure", error=error)


@runtime_checkable
class Channel(Protocol):
    """A way to reach people. ``send`` must not raise for a failed send; it returns the failure
    as a :class:`Delivery`."""

    def send(self, message: OutboundMessage) -> Delivery:
        """Send one message. Returns how it went."""
        ...
