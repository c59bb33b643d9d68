"""Profile updates as messages into the workspace: ``update_traits`` and ``add_to_segment``.

An ``update_traits`` action becomes an ``identify`` message with the traits; ``add_to_segment``
a ``track`` message ``Added To Segment`` with ``properties.segment`` (a rule segment on that
event lists the members). Both are ingested with the ``messageId`` ``journey-<idempotency key>``,
so the workspace's dedupe on ``messageId`` makes a replayed update a no-op: exactly once with no
extra bookkeeping. The recipient is the person's user id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from journeylens.activate.channels.base import Delivery, OutboundMessage, permanent

if TYPE_CHECKING:
    from journeylens.workspace import Workspace

__all__ = ["SEGMENT_EVENT", "ProfileChannel", "profile_message"]

#: The event an ``add_to_segment`` action records.
SEGMENT_EVENT = "Added To Segment"


def profile_message(message: OutboundMessage) -> dict[str, Any]:
    """The Segment message that applies a profile action. It has no ``timestamp``: the
    workspace stamps it with the time it receives it.

    >>> m = OutboundMessage("k1", "update_traits", "p1", "u1", "j", "v", "n",
    ...                     {"traits": {"vip": True}})
    >>> msg = profile_message(m)
    >>> msg["type"], msg["userId"], msg["traits"], msg["messageId"]
    ('identify', 'u1', {'vip': True}, 'journey-k1')
    """
    base: dict[str, Any] = {
        "messageId": f"journey-{message.idempotency_key}",
        "userId": message.recipient,
        "context": {
            "journey": {
                "journey_id": message.journey_id,
                "journey_version": message.journey_version,
                "node_id": message.node_id,
            }
        },
    }
    if message.channel == "update_traits":
        return base | {"type": "identify", "traits": dict(message.payload.get("traits", {}))}
    return base | {
        "type": "track",
        "event": SEGMENT_EVENT,
        "properties": {"segment": message.payload.get("segment")},
    }


class ProfileChannel:
    """Applies profile actions to ``ws`` by ingesting them."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def send(self, message: OutboundMessage) -> Delivery:
        """Ingest the message. Returns ``sent`` (a replay is a duplicate the workspace skips),
        or a permanent failure when the person has no user id or the message is refused."""
        if not message.recipient:
            return permanent("the person has no user id to update")
        report = self.ws.ingest([profile_message(message)], source_name="journeys")
        if report.rejected_count:
            return permanent(f"the workspace refused the update: {report.rejected[0].message}")
        return Delivery("sent", provider_message_id=f"journey-{message.idempotency_key}")
