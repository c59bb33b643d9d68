"""Channels: SMTP against a local aiosmtpd server, webhooks against a local http.server, the
recording channel, and how each failure is classed (transient: retry; permanent: give up)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from journeylens.activate.channels import (
    Channel,
    OutboundMessage,
    RecordingChannel,
    SmtpChannel,
    WebhookChannel,
    message_id,
    provider_payload,
    read_recording,
)
from journeylens.settings import ChannelSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def outbound(channel: str = "email", **changes) -> OutboundMessage:
    fields = {
        "idempotency_key": "k" * 64,
        "channel": channel,
        "person_id": "p1",
        "recipient": "ada@example.com",
        "journey_id": "cart-abandonment",
        "journey_version": "v1",
        "node_id": "email",
        "payload": {"subject": "Your cart", "body": "Come back", "url": "https://x.test/c"},
    }
    return OutboundMessage(**(fields | changes))


# ----------------------------------------------------------------------------- SMTP
class Inbox:
    """An aiosmtpd handler keeping every message; ``refuse`` answers RCPT with a reply."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.refuse: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_an_email_reaches_the_smtp_server_with_a_message_id_made_from_its_key(smtp):
    inbox, port = smtp
    channel = SmtpChannel.from_settings(
        ChannelSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="shop@example.com")
    )
    delivery = channel.send(outbound())
    assert delivery.status == "sent"
    assert delivery.provider_message_id == message_id("k" * 64)
    [raw] = inbox.messages
    mail = message_from_bytes(raw)
    assert mail["Message-ID"] == f"<{'k' * 64}@journeylens>"
    assert (mail["To"], mail["From"], mail["Subject"]) == (
        "ada@example.com",
        "shop@example.com",
        "Your cart",
    )
    assert mail["X-Journey-Id"] == "cart-abandonment"
    assert mail["X-Journey-Node"] == "email"
    assert "Come back" in mail.get_payload()
    assert "https://x.test/c" in mail.get_payload()


@pytest.mark.parametrize(
    ("reply", "status"),
    [("550 No such user", "permanent_failure"), ("451 Try again later", "transient_failure")],
)
def test_an_smtp_refusal_is_permanent_for_5xx_and_transient_for_4xx(smtp, reply, status):
    inbox, port = smtp
    inbox.refuse = reply
    delivery = SmtpChannel("127.0.0.1", port, sender="shop@example.com").send(outbound())
    assert delivery.status == status
    assert reply.split()[0] in delivery.error


def test_an_unreachable_smtp_server_is_a_transient_failure():
    delivery = SmtpChannel("127.0.0.1", free_port(), sender="s@x.test").send(outbound())
    assert delivery.status == "transient_failure"


def test_a_person_without_an_email_address_fails_permanently_without_a_connection():
    delivery = SmtpChannel("127.0.0.1", 1, sender="s@x.test").send(outbound(recipient=None))
    assert delivery.status == "permanent_failure"
    assert "e-mail address" in delivery.error


# ----------------------------------------------------------------------------- webhooks
class Provider(BaseHTTPRequestHandler):
    """Answers with the next status of ``server.statuses`` (200 when none are left) and keeps
    each request's headers and JSON body."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((dict(self.headers), body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        answer = json.dumps({"id": "prov-1"} if status == 200 else {"error": "no"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_PUT = do_POST  # noqa: N815  (http.server's handler names)

    def log_message(self, *args) -> None:
        return None


@pytest.fixture
def provider() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    server.requests, server.statuses = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url_of(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/send"


def test_an_sms_is_posted_in_the_provider_shape_with_an_idempotency_key_header(provider):
    channel = WebhookChannel("sms", url_of(provider))
    delivery = channel.send(outbound("sms", recipient="+447700900001"))
    assert (delivery.status, delivery.provider_message_id) == ("sent", "prov-1")
    [(headers, body)] = provider.requests
    assert headers["Idempotency-Key"] == "k" * 64
    assert body == {"to": "+447700900001", "body": "Come back", "reference": "k" * 64}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, "transient_failure"),
        (503, "transient_failure"),
        (429, "transient_failure"),
        (400, "permanent_failure"),
        (404, "permanent_failure"),
    ],
)
def test_provider_errors_are_transient_for_5xx_and_429_and_permanent_for_other_4xx(
    provider, status, expected
):
    provider.statuses = [status]
    delivery = WebhookChannel("push", url_of(provider)).send(outbound("push", recipient="p1"))
    assert delivery.status == expected
    assert f"HTTP {status}" in delivery.error


def test_an_unreachable_provider_is_a_transient_failure():
    url = f"http://127.0.0.1:{free_port()}/send"
    assert WebhookChannel("push", url).send(outbound("push")).status == "transient_failure"


def test_a_channel_without_a_provider_url_or_phone_number_fails_permanently():
    assert WebhookChannel("sms", None).send(outbound("sms")).status == "permanent_failure"
    missing = WebhookChannel("sms", "http://127.0.0.1:9/x").send(outbound("sms", recipient=None))
    assert (missing.status, missing.error) == (
        "permanent_failure",
        "the person has no phone number (trait 'phone')",
    )


def test_a_journey_webhook_goes_to_the_nodes_own_url_with_its_method(provider):
    message = outbound(
        "webhook",
        recipient=None,
        payload={"url": url_of(provider), "method": "PUT", "body": {"coupon": "BACK10"}},
    )
    assert WebhookChannel("webhook", None).send(message).status == "sent"
    [(_, body)] = provider.requests
    assert body == {
        "coupon": "BACK10",
        "person_id": "p1",
        "journey_id": "cart-abandonment",
        "journey_version": "v1",
        "node_id": "email",
    }


def test_every_provider_shape_names_the_recipient_and_the_text():
    push = provider_payload(outbound("push", recipient="p1"))["message"]
    assert push["external_user_id"] == "p1"
    assert push["notification"] == {"title": "Your cart", "body": "Come back"}
    assert push["data"]["url"] == "https://x.test/c"
    web = provider_payload(outbound("web_push", recipient="p1"))
    assert (web["include_external_user_ids"], web["contents"], web["url"]) == (
        ["p1"],
        {"en": "Come back"},
        "https://x.test/c",
    )
    text = provider_payload(outbound("whatsapp", recipient="+1555"))
    assert text["type"] == "text"
    assert text["text"] == {"body": "Come back"}
    template = provider_payload(
        outbound("whatsapp", recipient="+1555", payload={"template": "cart_1"})
    )
    assert template["template"] == {"name": "cart_1", "language": {"code": "en"}}


# ----------------------------------------------------------------------------- recording
def test_the_recording_channel_delivers_a_key_once_and_marks_repeats_as_duplicates(tmp_path):
    path = tmp_path / "sent.jsonl"
    first = RecordingChannel(path)
    assert isinstance(first, Channel)
    assert first.send(outbound()).status == "sent"
    # A new process (a restart) knows what the file already holds.
    again = RecordingChannel(path).send(outbound())
    assert (again.status, again.provider_message_id) == ("sent", "k" * 64)
    RecordingChannel(path).send(outbound(idempotency_key="other"))
    lines = list(read_recording(path))
    assert [(r["idempotency_key"][:5], r["duplicate"]) for r in lines] == [
        ("kkkkk", False),
        ("kkkkk", True),
        ("other", False),
    ]


def test_a_recording_line_cut_short_by_a_crash_was_never_delivered(tmp_path):
    path = tmp_path / "sent.jsonl"
    RecordingChannel(path).send(outbound())
    with Path(path).open("a") as out:
        out.write('{"idempotency_key": "half')
    assert len(list(read_recording(path))) == 1
