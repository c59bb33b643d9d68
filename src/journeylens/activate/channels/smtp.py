"""E-mail through an SMTP server (``smtplib``), with a ``Message-ID`` made from the send's key.

The ``Message-ID`` is ``<idempotency-key@journeylens>``: a retried send after a crash carries the
same id, so a mail server or provider that deduplicates on it keeps one copy, and opens and clicks
reported back against that id name the journey step. SMTP reply codes decide retries as the
protocol means them: 4xx is "try again later", 5xx is final.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate

from journeylens.activate.channels.base import Delivery, OutboundMessage, permanent, transient
from journeylens.settings import ChannelSettings

__all__ = ["SmtpChannel", "message_id"]


def message_id(idempotency_key: str) -> str:
    """The e-mail ``Message-ID`` of a send.

    >>> message_id("3f9a")
    '<3f9a@journeylens>'
    """
    return f"<{idempotency_key}@journeylens>"


class SmtpChannel:
    """Sends ``email`` messages through one SMTP server.

    ``host``, ``port``, ``sender`` and ``starttls`` usually come from
    :class:`~journeylens.settings.ChannelSettings` (:meth:`from_settings`).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        starttls: bool = False,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.timeout_seconds = timeout_seconds

    @classmethod
    def from_settings(cls, settings: ChannelSettings) -> SmtpChannel:
        """The channel the workspace's settings describe."""
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            timeout_seconds=settings.timeout_seconds,
        )

    def compose(self, message: OutboundMessage) -> EmailMessage:
        """The e-mail for ``message``: subject, text body (with the link, if any) and headers
        naming the journey step (``X-Journey-Id``, ``X-Journey-Node``)."""
        payload = message.payload
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient or ""
        mail["Subject"] = payload.get("subject") or payload.get("template") or message.journey_id
        mail["Message-ID"] = message_id(message.idempotency_key)
        mail["Date"] = formatdate(usegmt=True)
        mail["X-Journey-Id"] = message.journey_id
        mail["X-Journey-Version"] = message.journey_version
        mail["X-Journey-Node"] = message.node_id
        body = payload.get("body") or f"[template {payload.get('template')}]"
        if payload.get("url"):
            body = f"{body}\n\n{payload['url']}"
        mail.set_content(body)
        return mail

    def send(self, message: OutboundMessage) -> Delivery:
        """Send one e-mail. Returns ``sent`` with the ``Message-ID`` as the provider id; a 4xx
        reply, a timeout or a lost connection is transient, a 5xx reply or a missing address is
        permanent."""
        if not message.recipient:
            return permanent("the person has no e-mail address (trait 'email')")
        mail = self.compose(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as server:
                if self.starttls:
                    server.starttls()
                server.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            return _by_code(code, reply)
        except smtplib.SMTPResponseException as exc:
            return _by_code(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:
            return transient(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}")
        return Delivery("sent", provider_message_id=mail["Message-ID"])


def _by_code(code: int, reply: bytes | str) -> Delivery:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    error = f"SMTP {code}: {text}"
    return transient(error) if 400 <= code < 500 else permanent(error)
