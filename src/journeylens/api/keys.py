"""API keys at the HTTP door: who sent a request, and may their key do what it asks?

A key travels as ``Authorization: Bearer <key>``, as ``X-API-Key: <key>`` or, for the
dashboard in a browser, in the HttpOnly cookie ``journeylens_key`` (``KEY_COOKIE``; the dashboard
sets it with ``SameSite=Strict`` so other sites cannot make a browser use it). The collector reads
write keys its own way (HTTP Basic, ``writeKey`` in the body) and asks ``is_write_key``.

Roles grant: ``write`` → collect; ``read`` → read; ``admin`` → read, collect and change
(segments, erasure, keys). ``require_role("read")`` lets read and admin keys in.

The keys' rows are held in memory (``KeyCache``): the collector checks a key on every request, and
a query under the workspace lock per request would serialise ingest behind it. The copy is
reloaded when keys change through this server, when an unknown key id arrives (at most once a
second) and at least every few seconds, so a key made or revoked elsewhere takes effect quickly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from journeylens.api.errors import ERROR_RESPONSES, AuthenticationError, ForbiddenError
from journeylens.api.state import locked_workspace
from journeylens.keyring import ROLES, ApiKey, Role, find_key, parse_key

__all__ = [
    "KEY_COOKIE",
    "AdminKey",
    "KeyCache",
    "ReadKey",
    "check_key",
    "is_write_key",
    "require_role",
    "router",
]

KEY_COOKIE: Final = "journeylens_key"

#: What each role may do; an admin key can do everything the others can.
_GRANTS: Final[dict[str, frozenset[str]]] = {
    "write": frozenset({"write"}),
    "read": frozenset({"read"}),
    "admin": frozenset({"admin", "read", "write"}),
}
_MAX_AGE_SECONDS: Final = 5.0
_MISS_RELOAD_SECONDS: Final = 1.0

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
_cookie = APIKeyCookie(name=KEY_COOKIE, auto_error=False, description="The dashboard's key")


class KeyCache:
    """The workspace's key rows, in memory, checked without touching the database.

    ``load`` reads the rows; it runs under ``lock`` (the app's workspace lock), as every use of
    the single DuckDB connection must. The periodic refresh only takes the lock if it is free:
    a request must not wait behind a long analysis just to re-read keys it already knows.
    """

    def __init__(
        self, load: Callable[[], list[dict[str, Any]]], lock: threading.RLock | None = None
    ) -> None:
        self._load = load
        self._lock = lock or threading.RLock()
        self._rows: dict[str, dict[str, Any]] = {}
        self._loaded_at = float("-inf")

    def reload(self, *, wait: bool = True) -> None:
        """Read the key rows again; with ``wait=False`` only if the workspace is free now."""
        if not self._lock.acquire(blocking=wait):
            return
        try:
            rows = self._load()
        finally:
            self._lock.release()
        # One assignment: readers see the old dict or the new one, never a half-built one.
        self._rows = {r["key_id"]: r for r in rows}
        self._loaded_at = time.monotonic()

    def check(self, text: str) -> ApiKey | None:
        """The active key whose text is ``text``; None if it is malformed, unknown or revoked."""
        parsed = parse_key(text)
        if parsed is None:
            return None
        age = time.monotonic() - self._loaded_at
        row = self._rows.get(parsed[0])
        if row is None and age > _MISS_RELOAD_SECONDS:
            self.reload()
            row = self._rows.get(parsed[0])
        elif age > _MAX_AGE_SECONDS:
            self.reload(wait=False)
            row = self._rows.get(parsed[0])
        return None if row is None else find_key([row], text)


def check_key(request: Request, text: str) -> ApiKey | None:
    """The active key of this server's workspace whose text is ``text``, or None."""
    return request.app.state.keys.check(text)


def is_write_key(request: Request, text: str) -> bool:
    """Whether ``text`` is an active key that may send events (a write or an admin key)."""
    key = check_key(request, text)
    return key is not None and "write" in _GRANTS[key.role]


def require_role(*roles: str) -> Callable[..., ApiKey]:
    """A FastAPI dependency that lets a request in only with an active key granting one of
    ``roles`` (write, read, admin).

    Returns:
        The dependency; it returns the request's ``ApiKey``, raises ``AuthenticationError``
        (401) without a valid key and ``ForbiddenError`` (403) when the key's role does not
        grant any of ``roles``.
    """
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValueError(f"require_role needs roles from {ROLES}, got {roles}")

    def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        header: Annotated[str | None, Security(_header)],
        cookie: Annotated[str | None, Security(_cookie)],
    ) -> ApiKey:
        text = (bearer.credentials if bearer else None) or header or cookie
        if not text:
            raise AuthenticationError(
                "This route needs an API key",
                fix="Send `Authorization: Bearer <key>` or `X-API-Key: <key>`; make a key with "
                "`journeylens keys create --role read`",
            )
        key = check_key(request, text)
        if key is None:
            raise AuthenticationError(
                "The API key is not valid: unknown, malformed or revoked",
                fix="Use an active key (`journeylens keys list`)",
            )
        if not _GRANTS[key.role] & set(roles):
            raise ForbiddenError(
                f"A {key.role} key cannot use this route",
                received=key.role,
                allowed=", ".join(r for r in ROLES if _GRANTS[r] & set(roles)),
                fix="Use a key with one of the allowed roles",
            )
        return key

    return dependency


#: Ready-made dependencies for route signatures: ``key: ReadKey``.
ReadKey = Annotated[ApiKey, Depends(require_role("read"))]
AdminKey = Annotated[ApiKey, Depends(require_role("admin"))]


router = APIRouter(prefix="/api/keys", tags=["keys"], responses=ERROR_RESPONSES)


class KeyRequest(BaseModel):
    """A key to make."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field("", max_length=200, description="What the key is for")


@router.get("", summary="List API keys")
def list_keys(request: Request, key: AdminKey) -> dict[str, Any]:
    """Every key, active and revoked, without secrets.

    Returns:
        ``{"keys": [{"key_id", "name", "role", "created_at", "revoked_at", "active"}]}``.
    """
    with locked_workspace(request) as ws:
        return {"keys": [k.to_dict() for k in ws.list_keys()]}


@router.post("", status_code=201, summary="Make an API key")
def create_key(request: Request, body: KeyRequest, key: AdminKey) -> dict[str, Any]:
    """Make a key; its text is in this response only (the workspace keeps a hash).

    Returns:
        The key's fields (as in the listing) and ``key``, its text.
    """
    with locked_workspace(request) as ws:
        text, made = ws.create_key(body.role, body.name)
        request.app.state.keys.reload()
    return made.to_dict() | {"key": text}


@router.delete("/{key_id}", summary="Revoke an API key")
def revoke_key(key_id: str, request: Request, key: AdminKey) -> dict[str, Any]:
    """Revoke the key ``key_id``; requests with it fail from now on.

    Returns:
        The key's fields, ``revoked_at`` set and ``active`` false.
    """
    with locked_workspace(request) as ws:
        revoked = ws.revoke_key(key_id)
        request.app.state.keys.reload()
    return revoked.to_dict()
