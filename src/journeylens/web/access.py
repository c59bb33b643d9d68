"""How a browser holds an API key for the dashboard.

The dashboard reads the same workspace as the API, so it is behind the same keys
(``journeylens.api.keys``): a ``read`` or ``admin`` key shows pages, only ``admin`` may change
things (save or delete segments); a ``write`` key, which ships in web pages for the collector,
opens nothing.

A browser gets in once, by opening any page with ``?key=<key>`` or by pasting the key into the
sign-in form. The key is then kept in the HttpOnly, SameSite=Strict cookie ``KEY_COOKIE`` (the
API reads the same cookie): scripts cannot read it and other sites cannot make the browser send
it, which also guards the dashboard's forms against cross-site requests. A ``?key=`` is dropped
from the address by a redirect, so it does not linger in the history. Every request checks the
key again, so revoking it locks the browser out within seconds (the key cache's refresh).
Scripts may send ``Authorization: Bearer <key>`` or ``X-API-Key`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fastapi import Request
from starlette.responses import Response

from journeylens.api.keys import KEY_COOKIE, check_key

__all__ = ["READ_ROLES", "Visitor", "key_from", "remember_key", "visitor"]

#: Roles that may look at the dashboard.
READ_ROLES: Final = ("read", "admin")
#: How long the browser keeps the key: a working week; the key itself may be revoked any time.
_COOKIE_SECONDS: Final = 7 * 24 * 3600


@dataclass(frozen=True)
class Visitor:
    """Who is asking: the ``role`` of their key (None: no valid key) and where the key came
    from (``query``, ``form``, ``header`` or ``cookie``)."""

    role: str | None
    source: str | None

    @property
    def can_read(self) -> bool:
        return self.role in READ_ROLES

    @property
    def can_change(self) -> bool:
        return self.role == "admin"


def key_from(request: Request) -> tuple[str | None, str | None]:
    """The key text a request carries and where: the address first (a new key replaces the
    cookie), then the headers, then the cookie.

    Returns:
        ``(key, source)``; ``(None, None)`` when the request carries no key.
    """
    if request.query_params.get("key"):
        return request.query_params["key"], "query"
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return auth[7:].strip(), "header"
    if request.headers.get("x-api-key"):
        return request.headers["x-api-key"], "header"
    if request.cookies.get(KEY_COOKIE):
        return request.cookies[KEY_COOKIE], "cookie"
    return None, None


def visitor(request: Request, key: str | None = None, source: str | None = None) -> Visitor:
    """Check a key (by default the one the request carries) against the server's keys.

    Returns:
        A :class:`Visitor`; its ``role`` is None for a missing, unknown or revoked key.
    """
    if key is None:
        key, source = key_from(request)
    if key is None:
        return Visitor(None, None)
    found = check_key(request, key)
    return Visitor(found.role if found is not None else None, source)


def remember_key(response: Response, key: str, *, secure: bool) -> None:
    """Keep ``key`` in the browser's HttpOnly, SameSite=Strict cookie (``secure`` over HTTPS)."""
    response.set_cookie(
        KEY_COOKIE,
        key,
        max_age=_COOKIE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
