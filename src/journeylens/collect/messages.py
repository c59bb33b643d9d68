"""One Segment message arriving over HTTP: fill in what the server fills in, and check it.

The collector answers each request with a reason for every bad message, so it needs a verdict
before the message reaches the workspace. ``check_message`` gives it in plain Python by applying
the rules of ingest's staging query (``collect.staging``) in the same order, with the same codes
(``report.REJECTION_CODES``) and fields. Every message, good or bad, is still journaled and
ingested, and ingest quarantines the bad ones with that same reason, so the ``quarantine`` table
remains the record of what was rejected.

One rule is narrower here: a timestamp passes only in the ISO-8601 forms SDKs send
(``2024-05-01``, ``2024-05-01T12:00:00``, optional fraction, then ``Z`` or an offset such as
``+02:00``). DuckDB reads a few more spellings (``2024-5-1``, time-zone names); a message using
one is answered ``BAD_TIMESTAMP`` yet stored by ingest.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from journeylens.collect.report import rejection_message
from journeylens.schema import MESSAGE_TYPES
from journeylens.settings import IngestSettings

__all__ = ["Problem", "check_message", "prepare_message"]


@dataclass(frozen=True)
class Problem:
    """Why one message is rejected.

    Attributes:
        code: one of ``report.REJECTION_CODES``.
        field: the Segment field at fault (``userId``, ``timestamp`` …), or None.
        value: the offending value as text, or None.
    """

    code: str
    field: str | None
    value: str | None

    @property
    def message(self) -> str:
        """One sentence: the field, its value, what is wrong, how to fix it."""
        return rejection_message(self.code, self.field, self.value)


def prepare_message(
    item: Any,
    *,
    envelope: dict[str, Any] | None,
    message_type: str | None,
    received_at: str,
    ip: str | None,
    source: str | None = None,
) -> Any:
    """Fill in what Segment's servers fill in.

    ``envelope`` is a batch's outer object: its ``sentAt`` and ``integrations`` apply to every
    item that has none, and its ``context`` is merged under each item's own. ``message_type``
    (from the path of a single-message route) sets ``type``. ``receivedAt`` becomes
    ``received_at`` (the server's clock as ISO-8601 text), ``messageId`` is generated when
    missing (once, so a journal replay stores the same id), ``context.ip`` (the client's
    address) and ``source`` (who sent it: the write key's name) are set when not given, and
    ``writeKey`` is dropped: it is a credential, not event data.

    Returns:
        A new dict for a JSON object; anything else unchanged (it will be rejected as BAD_JSON).

    >>> m = prepare_message({"event": "x", "userId": "u", "messageId": "m1", "writeKey": "k"},
    ...     envelope=None, message_type="track", received_at="2024-05-01T12:00:00Z", ip=None)
    >>> sorted(m.items())  # doctest: +NORMALIZE_WHITESPACE
    [('event', 'x'), ('messageId', 'm1'), ('receivedAt', '2024-05-01T12:00:00Z'),
     ('type', 'track'), ('userId', 'u')]
    """
    if not isinstance(item, dict):
        return item
    message = dict(item)
    if envelope is not None:
        for key in ("sentAt", "integrations"):
            if key in envelope and key not in message:
                message[key] = envelope[key]
        shared = envelope.get("context")
        if isinstance(shared, dict):
            own = message.get("context")
            message["context"] = {**shared, **own} if isinstance(own, dict) else shared
            if own is not None and not isinstance(own, dict):
                message["context"] = own  # kept as sent, so it is rejected as WRONG_TYPE
    message.pop("writeKey", None)
    if source is not None:
        message.setdefault("source", source)
    if message_type is not None:
        message["type"] = message_type
    message["receivedAt"] = received_at
    given = _text(_first(message, "messageId", "message_id"))
    if given is None or not given.strip(" "):
        message.pop("message_id", None)
        message["messageId"] = f"jl-{uuid.uuid4().hex}"
    context = message.get("context")
    if ip and (context is None or isinstance(context, dict)):
        context = dict(context or {})
        context.setdefault("ip", ip)
        message["context"] = context
    return message


def check_message(message: Any, n_bytes: int, settings: IngestSettings) -> Problem | None:
    """The first ingest rule ``message`` breaks, or None when ingest will accept it.

    ``n_bytes`` is the size of the message's JSON text in UTF-8.

    Returns:
        A ``Problem`` (code, field, value), in the order staging checks them: BAD_JSON,
        OVERSIZE, UNKNOWN_TYPE, WRONG_TYPE, MISSING_ID, MISSING_FIELD, BAD_TIMESTAMP,
        FUTURE_TIMESTAMP, MESSAGE_ID_TOO_LONG.

    >>> s = IngestSettings()
    >>> check_message({"type": "track", "userId": "u1"}, 30, s)
    Problem(code='MISSING_FIELD', field='event', value=None)
    >>> check_message({"type": "track", "userId": "u1", "event": "Signed Up"}, 50, s) is None
    True
    """
    if not isinstance(message, dict):
        return Problem("BAD_JSON", None, None)
    max_bytes, max_future, max_id_chars = _limits(settings)
    if n_bytes > max_bytes:
        return Problem("OVERSIZE", None, f"{n_bytes} bytes")
    type_raw = _text(message.get("type"))
    kind = type_raw.strip(" ").lower() if type_raw is not None else None
    if kind not in MESSAGE_TYPES:
        return Problem("UNKNOWN_TYPE", "type", type_raw)
    wrong = _wrong_type(message)
    if wrong is not None:
        return wrong
    properties = message.get("properties")
    revenue = _text(properties.get("revenue")) if isinstance(properties, dict) else None
    if revenue is not None and not _NUMBER.match(revenue):
        return Problem("WRONG_TYPE", "properties.revenue", revenue)
    user_id = _id(message, "userId", "user_id")
    if user_id is None and _id(message, "anonymousId", "anonymous_id") is None:
        return Problem("MISSING_ID", "userId", None)
    missing = _missing_field(message, kind, user_id)
    if missing is not None:
        return Problem("MISSING_FIELD", missing, None)
    times: dict[str, datetime | None] = {}
    for label, spellings in _TIMES.items():
        raw = _text(_first(message, *spellings))
        parsed = _parse_time(raw) if raw is not None else None
        if raw is not None and parsed is None:
            return Problem("BAD_TIMESTAMP", label, raw)
        times[label] = parsed
    received = times["receivedAt"] or datetime.now(UTC)
    corrected = _corrected(times, received)
    if corrected > received + max_future:
        shown = corrected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return Problem("FUTURE_TIMESTAMP", "timestamp", shown)
    given = _id(message, "messageId", "message_id")
    if given is not None and len(given) > max_id_chars:
        return Problem("MESSAGE_ID_TOO_LONG", "messageId", given)
    return None


# --------------------------------------------------------------------------- staging's rules

# Field → spellings, camelCase first, as staging reads them.
_IDS: dict[str, tuple[str, ...]] = {
    "messageId": ("messageId", "message_id"),
    "type": ("type",),
    "anonymousId": ("anonymousId", "anonymous_id"),
    "userId": ("userId", "user_id"),
    "previousId": ("previousId", "previous_id"),
    "groupId": ("groupId", "group_id"),
    "event": ("event",),
}
_TIMES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp",),
    "originalTimestamp": ("originalTimestamp", "original_timestamp"),
    "sentAt": ("sentAt", "sent_at"),
    "receivedAt": ("receivedAt", "received_at"),
}
_ROOTS = ("properties", "context", "traits")

# What DuckDB casts to DOUBLE: an optional sign, digits with one optional point (and optional
# underscores between digits), an optional exponent; or inf / infinity / nan. Surrounding
# spaces are allowed.
_NUMBER = re.compile(
    r"^ *[+-]?(?:(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*\.?(?:[eE][+-]?\d+)?|inf|infinity|nan) *$",
    re.IGNORECASE,
)
# The ISO-8601 forms accepted here (see the module docstring).
_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?)?$"
)


@functools.lru_cache(maxsize=8)
def _limits(settings: IngestSettings) -> tuple[int, timedelta, int]:
    return settings.max_message_bytes, settings.max_future_delta, settings.max_message_id_chars


def _first(message: dict[str, Any], *spellings: str) -> Any:
    """The value of the first spelling present; a JSON null counts as present, as in staging
    (DuckDB's ``coalesce`` over JSON values keeps a JSON ``null``)."""
    for spelling in spellings:
        if spelling in message:
            return message[spelling]
    return None


def _text(value: Any) -> str | None:
    """A JSON value as ``json_extract_string`` gives it: strings as they are, other scalars as
    their JSON text, objects and arrays as JSON, null as None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _id(message: dict[str, Any], *spellings: str) -> str | None:
    """A text field trimmed of spaces, None when absent or empty (staging's
    ``nullif(trim(x), '')``; DuckDB's ``trim`` removes spaces only)."""
    text = _text(_first(message, *spellings))
    if text is None:
        return None
    return text.strip(" ") or None


def _wrong_type(message: dict[str, Any]) -> Problem | None:
    for label, spellings in _IDS.items():
        value = _first(message, *spellings)
        if isinstance(value, dict | list):
            return Problem("WRONG_TYPE", label, _text(value))
    for label, spellings in _TIMES.items():
        value = _first(message, *spellings)
        if value is not None and not isinstance(value, str):
            return Problem("WRONG_TYPE", label, _text(value))
    for root in _ROOTS:
        value = message.get(root)
        if value is not None and not isinstance(value, dict):
            return Problem("WRONG_TYPE", root, _text(value))
    return None


def _missing_field(message: dict[str, Any], kind: str, user_id: str | None) -> str | None:
    if kind == "track" and _id(message, "event") is None:
        return "event"
    if kind == "alias" and _id(message, "previousId", "previous_id") is None:
        return "previousId"
    if kind == "alias" and user_id is None:
        return "userId"
    if kind == "group" and _id(message, "groupId", "group_id") is None:
        return "groupId"
    return None


# A request's messages share their receivedAt and often their sentAt.
@functools.lru_cache(maxsize=4096)
def _parse_time(text: str) -> datetime | None:
    match = _TIME.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=_zone(zone),
        )
    except ValueError:
        return None  # 2024-02-30, 25:00:00, an offset beyond a day
    return value.astimezone(UTC)


@functools.lru_cache(maxsize=256)
def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
    return timezone(sign * timedelta(minutes=minutes))


def _corrected(times: dict[str, datetime | None], received: datetime) -> datetime:
    """Segment's clock-skew correction, as staging applies it."""
    sent, original, ts = times["sentAt"], times["originalTimestamp"], times["timestamp"]
    device = original or ts
    if sent is not None and device is not None:
        return received - (sent - device)
    return ts or original or received
