"""Channel plugins behind one protocol (:class:`Channel`): SMTP e-mail, HTTP webhooks with
provider-shaped payloads (SMS, push, web push, WhatsApp, journey webhooks), a recording channel
for tests and dry runs, and profile updates into the workspace."""

from journeylens.activate.channels.base import (
    Channel,
    Delivery,
    DeliveryStatus,
    OutboundMessage,
    permanent,
    transient,
)
from journeylens.activate.channels.profile import SEGMENT_EVENT, ProfileChannel, profile_message
from journeylens.activate.channels.recording import RecordingChannel, read_recording
from journeylens.activate.channels.smtp import SmtpChannel, message_id
from journeylens.activate.channels.webhook import PROVIDER_SHAPES, WebhookChannel, provider_payload

__all__ = [
    "PROVIDER_SHAPES",
    "SEGMENT_EVENT",
    "Channel",
    "Delivery",
    "DeliveryStatus",
    "OutboundMessage",
    "ProfileChannel",
    "RecordingChannel",
    "SmtpChannel",
    "WebhookChannel",
    "message_id",
    "permanent",
    "profile_message",
    "provider_payload",
    "read_recording",
    "transient",
]
