"""A channel that writes every message to a JSON-lines file: for tests, dry runs and audits.

Each send attempt is one line, written and ``fsync``-ed before the send is acknowledged, so a
line on disk means the message was delivered, even if the process dies a moment later. Like a
provider that honours idempotency keys, the channel delivers a key once: an attempt whose key is
already in the file (a retry of a send whose acknowledgement was lost in a crash) is recorded
with ``"duplicate": true`` and answered ``sent`` with the first delivery's id. Counting the
duplicate lines shows how often that happened; counting the others gives what people received.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from journeylens.activate.channels.base import Delivery, OutboundMessage

__all__ = ["RecordingChannel", "read_recording"]


class RecordingChannel:
    """Appends each message to ``path`` (created with its folder if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._delivered = {r["idempotency_key"] for r in read_recording(self.path)}

    def send(self, message: OutboundMessage) -> Delivery:
        """Record ``message``. Returns ``sent``, the provider id being the idempotency key."""
        with self._lock:
            duplicate = message.idempotency_key in self._delivered
            line = {
                "idempotency_key": message.idempotency_key,
                "channel": message.channel,
                "person_id": message.person_id,
                "recipient": message.recipient,
                "journey_id": message.journey_id,
                "journey_version": message.journey_version,
                "node_id": message.node_id,
                "payload": dict(message.payload),
                "duplicate": duplicate,
            }
            text = json.dumps(line, default=str, sort_keys=True) + "\n"
            with self.path.open("a", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            self._delivered.add(message.idempotency_key)
        return Delivery("sent", provider_message_id=message.idempotency_key)


def read_recording(path: str | Path) -> Iterator[dict[str, Any]]:
    """The recorded lines of ``path``, oldest first (nothing if the file does not exist).

    A last line cut short by a crash mid-write is skipped: it was never acknowledged.

    Returns:
        One dict per attempt: ``idempotency_key``, ``channel``, ``person_id``, ``recipient``,
        ``journey_id``, ``journey_version``, ``node_id``, ``payload`` and ``duplicate`` (the key
        had been delivered before).
    """
    path = Path(path)
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for text in lines:
            if not text.endswith("\n"):
                return
            yield json.loads(text)
