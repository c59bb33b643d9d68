"""API keys: how a key's text is made, stored and checked.

A key reads ``jl_<role>_<key_id>_<secret>``: ``key_id`` (12 hex digits) names the stored row, so
a check is one lookup, and ``secret`` (43 URL-safe characters, 256 random bits) is the part that
proves possession. The role in the text only helps people tell keys apart (write keys are public:
they ship in web pages); the stored row decides what a key may do.

Only a salted SHA-256 of the secret is stored. A slow hash (scrypt, bcrypt) protects guessable
passwords; a 256-bit random secret cannot be guessed, and the collector checks a key on every
request, so a fast hash costs nothing in safety and keeps ingest throughput.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from journeylens.errors import UnknownNameError

__all__ = [
    "ROLES",
    "ApiKey",
    "Role",
    "find_key",
    "hash_secret",
    "new_key",
    "parse_key",
    "verify_key",
]

Role = Literal["write", "read", "admin"]
#: ``write`` may only send events to the collector; ``read`` reads every analysis, person and
#: segment; ``admin`` may also change things (segments, erasure, keys).
ROLES: Final[tuple[str, ...]] = get_args(Role)

_PREFIX: Final = "jl"
_KEY_ID_HEX: Final = 12


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret.

    Attributes:
        key_id: the public id in the key's text.
        name: what the key is for ("website", "ops dashboard").
        role: write, read or admin.
        created_at: when it was made (UTC).
        revoked_at: when it was revoked (UTC), or None while it is active.
    """

    key_id: str
    name: str
    role: str
    created_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApiKey:
        """The key of a stored row (``schema.API_KEYS_SCHEMA``); times in UTC."""
        return cls(
            key_id=row["key_id"],
            name=row["name"] or "",
            role=row["role"],
            created_at=_utc(row["created_at"]),
            revoked_at=_utc(row["revoked_at"]),
        )

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        """JSON values: every attribute (datetimes as ISO-8601 text) and ``active``."""
        return {
            "key_id": self.key_id,
            "name": self.name,
            "role": self.role,
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
            "active": self.active,
        }


def new_key(role: str, name: str, now: datetime) -> tuple[str, dict[str, Any]]:
    """Make a key of ``role``.

    Returns:
        ``(text, row)``: the key's text, shown once and never stored, and its row in the
        ``api_keys`` layout (``schema.API_KEYS_SCHEMA``) with the salted hash of the secret.

    >>> from datetime import UTC, datetime
    >>> text, row = new_key("read", "docs", datetime(2024, 1, 1, tzinfo=UTC))
    >>> text.startswith("jl_read_"), verify_key(text, row)
    (True, True)
    """
    if role not in ROLES:
        raise UnknownNameError("key role", role, ROLES)
    key_id = secrets.token_hex(_KEY_ID_HEX // 2)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    row = {
        "key_id": key_id,
        "name": name,
        "role": role,
        "salt": salt,
        "secret_hash": hash_secret(secret, salt),
        "created_at": now,
        "revoked_at": None,
    }
    return f"{_PREFIX}_{role}_{key_id}_{secret}", row


def parse_key(text: str) -> tuple[str, str] | None:
    """Split a key's text into ``(key_id, secret)``; None when it is not shaped like a key.

    >>> parse_key("jl_write_0123456789ab_s3cr3t")
    ('0123456789ab', 's3cr3t')
    >>> parse_key("hello") is None
    True
    """
    parts = text.split("_", 3)
    if len(parts) != 4 or parts[0] != _PREFIX or parts[1] not in ROLES:
        return None
    key_id, secret = parts[2], parts[3]
    if len(key_id) != _KEY_ID_HEX or not secret:
        return None
    return key_id, secret


def hash_secret(secret: str, salt: str) -> str:
    """Hex SHA-256 of the salt and the secret."""
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def find_key(rows: Iterable[dict[str, Any]], text: str) -> ApiKey | None:
    """The active key among stored ``rows`` whose text is ``text``; None if ``text`` is
    malformed, unknown or revoked."""
    parsed = parse_key(text)
    if parsed is None:
        return None
    row = next((r for r in rows if r["key_id"] == parsed[0]), None)
    if row is None or row["revoked_at"] is not None or not verify_key(text, row):
        return None
    return ApiKey.from_row(row)


def verify_key(text: str, row: dict[str, Any]) -> bool:
    """Whether ``text`` is the key stored as ``row`` (revocation is the caller's check).
    Compares in constant time."""
    parsed = parse_key(text)
    if parsed is None or parsed[0] != row["key_id"]:
        return False
    return hmac.compare_digest(hash_secret(parsed[1], row["salt"]), row["secret_hash"])


def _utc(moment: datetime | None) -> datetime | None:
    """Some backends hand timestamps back without a zone; they are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
