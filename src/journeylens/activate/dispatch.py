"""Sending what the outbox holds: one message at a time, each acknowledged on its own.

A row is marked ``sent`` right after its channel accepted it, in its own statement, so a crash
can only lose the acknowledgement of the one message in flight; on restart that row is still
``pending`` and is sent again with the same idempotency key, which the provider (or the
recording channel) recognises. Transient failures are retried with exponential backoff up to
``ChannelSettings.max_attempts``; permanent ones are final at once. A failure marks its own row,
never a batch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from journeylens.activate.channels import (
    Channel,
    OutboundMessage,
    ProfileChannel,
    RecordingChannel,
    SmtpChannel,
    WebhookChannel,
)
from journeylens.activate.journey import MESSAGE_CHANNELS
from journeylens.settings import ChannelSettings
from journeylens.store.journeys import JourneyStore
from journeylens.workspace import Workspace

__all__ = ["DispatchReport", "default_channels", "dispatch_due", "recording_channels"]

#: Outbox kinds that change the person's profile rather than reach them.
_PROFILE_KINDS = ("update_traits", "add_to_segment")


@dataclass
class DispatchReport:
    """What one dispatch pass did.

    Attributes:
        sent: rows the channel accepted.
        retried: rows that failed transiently and wait for a retry.
        failed: rows that failed for good (permanent failure, or out of attempts).
        errors: ``idempotency_key -> error`` of this pass's failures.
    """

    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def default_channels(ws: Workspace) -> dict[str, Channel]:
    """The channels the workspace's settings describe: SMTP for ``email``, the provider
    webhooks for ``sms``/``push``/``web_push``/``whatsapp``, the node's URL for ``webhook``, and
    the workspace itself for profile updates."""
    settings: ChannelSettings = ws.settings.channels
    channels: dict[str, Channel] = {"email": SmtpChannel.from_settings(settings)}
    for name in MESSAGE_CHANNELS:
        if name != "email":
            url = settings.webhook_urls.get(name)  # type: ignore[call-overload]
            channels[name] = WebhookChannel(name, url, timeout_seconds=settings.timeout_seconds)
    channels["webhook"] = WebhookChannel("webhook", None, timeout_seconds=settings.timeout_seconds)
    channels["profile"] = ProfileChannel(ws)
    return channels


def recording_channels(ws: Workspace, path: str | Path) -> dict[str, Channel]:
    """Every message and webhook recorded to ``path`` instead of sent (a dry run, a test);
    profile updates still reach the workspace."""
    recorder = RecordingChannel(path)
    channels: dict[str, Channel] = {name: recorder for name in (*MESSAGE_CHANNELS, "webhook")}
    channels["profile"] = ProfileChannel(ws)
    return channels


def dispatch_due(
    store: JourneyStore,
    channels: Mapping[str, Channel],
    now: datetime,
    settings: ChannelSettings,
    *,
    limit: int = 10_000,
    ack_batch: int = 1,
) -> DispatchReport:
    """Send the outbox rows due at ``now`` (at most ``limit``) and record each outcome.

    ``ack_batch`` outcomes are stored per transaction. 1 (the default) stores each at once, so
    a crash can leave at most the one message in flight unacknowledged; a larger batch saves a
    commit per message (the commit, not the send, bounds throughput on a fast provider) at the
    price of up to ``ack_batch`` repeated sends after a crash, each deduplicated by its key.

    Returns:
        A :class:`DispatchReport`.
    """
    report = DispatchReport()
    sent: list[tuple[str, str | None]] = []
    failed: list[tuple[str, str, datetime | None]] = []

    def store_acks() -> None:
        with store.transaction():
            if len(sent) == 1:
                store.mark_sent(*sent[0], now)
            elif sent:
                store.mark_sent_many(sent, now)
            for args in failed:
                store.mark_failed(*args)
        sent.clear()
        failed.clear()

    for row in store.due_sends(now, limit):
        name = "profile" if row["kind"] in _PROFILE_KINDS else row["channel"]
        channel = channels.get(name)
        message = OutboundMessage(
            idempotency_key=row["idempotency_key"],
            channel=row["channel"] or row["kind"],
            person_id=row["person_id"],
            recipient=row["recipient"],
            journey_id=row["journey_id"],
            journey_version=row["journey_version"],
            node_id=row["node_id"],
            payload=json.loads(row["payload"]),
        )
        if channel is None:
            delivery_status, error, provider_id = "permanent_failure", f"no {name!r} channel", None
        else:
            delivery = channel.send(message)
            delivery_status, error = delivery.status, delivery.error
            provider_id = delivery.provider_message_id
        key = row["idempotency_key"]
        if delivery_status == "sent":
            sent.append((key, provider_id))
            report.sent += 1
        else:
            attempts = row["attempts"] + 1
            retry = delivery_status == "transient_failure" and attempts < settings.max_attempts
            # Backoff doubles per attempt: 30 s, 1 min, 2 min... with the default setting.
            retry_at = now + settings.retry_backoff_delta * 2 ** (attempts - 1) if retry else None
            failed.append((key, error or delivery_status, retry_at))
            report.errors[key] = error or delivery_status
            if retry:
                report.retried += 1
            else:
                report.failed += 1
        if len(sent) + len(failed) >= ack_batch:
            store_acks()
    if sent or failed:
        store_acks()
    return report
