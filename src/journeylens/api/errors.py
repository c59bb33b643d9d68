"""One JSON error shape for every failure of the HTTP interface.

Every error response, whatever raised it, has the body::

    {"error": {"code": "UPPER_SNAKE", "message": "one sentence", "detail": {...}}}

``code`` and ``message`` come from the error tree (``journeylens.errors``); ``detail`` always has
``problem``, ``received``, ``allowed`` and ``fix`` and may add more (``errors``: one entry per
invalid field). The handlers here turn journeylens errors, FastAPI's request validation errors,
HTTP exceptions (404 for an unknown path, 405, 413, 429 …) and unexpected exceptions into it;
an unexpected exception is logged and answered with a 500 that does not leak its text.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from journeylens.errors import JourneyLensError

__all__ = [
    "ERROR_RESPONSES",
    "AuthenticationError",
    "ErrorBody",
    "ForbiddenError",
    "error_response",
    "install_error_handlers",
]

_log = logging.getLogger("journeylens.api")


class AuthenticationError(JourneyLensError):
    """No API key, or one that is unknown, malformed or revoked."""

    code = "UNAUTHORIZED"
    status = 401


class ForbiddenError(JourneyLensError):
    """A valid API key whose role does not allow the request."""

    code = "FORBIDDEN"
    status = 403


class ErrorDetail(BaseModel):
    problem: str
    received: str | None = None
    allowed: str | None = None
    fix: str | None = None
    errors: list[dict[str, Any]] | None = None


class ErrorInfo(BaseModel):
    code: str
    message: str
    detail: ErrorDetail


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorInfo


_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input (a bad spec, an unknown name)",
    401: "Missing, unknown or revoked API key",
    403: "The API key's role does not allow this",
    404: "Not found",
    409: "The workspace cannot do this in its current state",
    422: "The request does not match the route's parameters",
}
#: The error responses documented on every API route (``responses=`` of a router).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _DESCRIPTIONS.items()
}

#: Codes of the HTTP statuses the framework itself raises (unknown path, wrong method …).
_HTTP_CODES: Final[dict[int, str]] = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
}


def error_response(
    status: int,
    code: str,
    message: str,
    detail: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A response in the one error shape.

    Returns:
        A ``JSONResponse`` of status ``status`` whose body is ``{"error": {"code", "message",
        "detail"}}``; ``detail`` always carries ``problem``, ``received``, ``allowed``, ``fix``.
    """
    base = {"problem": message, "received": None, "allowed": None, "fix": None}
    body = {"error": {"code": code, "message": message, "detail": base | (detail or {})}}
    return JSONResponse(body, status_code=status, headers=headers)


def _journeylens(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JourneyLensError)
    body = exc.to_dict()
    if exc.status >= 500:
        _log.error("journeylens error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(exc.status, body["code"], body["message"], body["detail"])


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ())),
            "problem": str(e.get("msg", "")),
            "received": _short(e.get("input")),
        }
        for e in exc.errors()
    ]
    lines = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
    return error_response(
        422,
        "INVALID_REQUEST",
        f"The request is not valid: {lines}",
        {"errors": errors, "fix": "Correct the fields named above (see /docs)"},
    )


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, f"HTTP_{status}")
    text = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    fix = "See /docs for the routes" if status in (404, 405) else None
    return error_response(status, code, text, {"fix": fix}, headers=exc.headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log, not to the client: it may hold data and internals.
    _log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500,
        "INTERNAL_ERROR",
        "The server failed to answer this request",
        {"fix": "Retry; if it keeps failing, report it with the server log"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Answer every failure of ``app`` in the one error shape."""
    app.add_exception_handler(JourneyLensError, _journeylens)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


def _short(value: Any, limit: int = 200) -> str | None:
    if value is None:
        return None
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
