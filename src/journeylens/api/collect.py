"""The Segment-compatible collector: ``POST /v1/track|identify|page|screen|group|alias|batch``.

Real SDK traffic works unchanged: the analytics.js short paths ``/v1/t|i|p|s|g|a|b``, the write
key from HTTP Basic (username, empty password), ``X-Write-Key``, ``?writeKey=`` or ``writeKey``
in the body; any content type (analytics.js posts JSON as ``text/plain``);
``Content-Encoding: gzip``. CORS for ``/v1/`` is set up by ``api.app``.

A request is answered only once its messages are durable in the journal
(``collect.journal``); the drain started by ``lifespan`` moves them into the workspace. Status
codes are chosen for how SDKs react to them: 200 accepted; 400 bad payload, with a reason per
bad message (the good messages of the batch are kept); 401 bad key; 413 too large; 429 with
``Retry-After`` while the journal's backlog is over its limit; 503 if the disk write failed.
SDKs retry 429 and 5xx, never 400/401/413. Error bodies have the API's one shape and, for
analytics-python (which reads exactly these keys), ``code`` and ``message`` at the top level too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from journeylens.api.keys import check_key, is_write_key
from journeylens.collect.journal import Drain, Journal
from journeylens.collect.messages import check_message, prepare_message
from journeylens.errors import WorkspaceError
from journeylens.keyring import ApiKey
from journeylens.settings import IngestSettings

__all__ = ["CollectorLimits", "lifespan", "router"]

#: Path → message type; the short forms are analytics.js's.
_SINGLE: Final[dict[str, str]] = {
    "track": "track",
    "identify": "identify",
    "page": "page",
    "screen": "screen",
    "group": "group",
    "alias": "alias",
    "t": "track",
    "i": "identify",
    "p": "page",
    "s": "screen",
    "g": "group",
    "a": "alias",
}
_BATCH: Final = ("batch", "b")
# One encoder for every message: ``json.dumps`` with options builds a new one per call.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class CollectorLimits:
    """The collector's limits (Segment's by default) and its journal's sizes.

    Attributes:
        max_request_bytes: a request body, after gunzip, larger than this is refused (413).
        max_batch_messages: a batch with more messages is refused (413).
        segment_bytes: the journal starts a new segment file past this size.
        max_backlog_bytes: journal bytes not yet in the workspace beyond which requests are
            answered 429 until the drain catches up.
        retry_after_seconds: the ``Retry-After`` of a 429 or 503.
        drain_batch_messages: at most this many messages per ingest call of the drain.

    A test or embedding program may set ``app.state.collector_limits`` before the app starts.
    """

    max_request_bytes: int = 500 * 1024
    max_batch_messages: int = 2_500
    segment_bytes: int = 64 << 20
    max_backlog_bytes: int = 512 << 20
    retry_after_seconds: int = 2
    drain_batch_messages: int = 100_000


@dataclass(frozen=True)
class _Collector:
    journal: Journal
    drain: Drain
    ingest: IngestSettings
    limits: CollectorLimits


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the journal in ``<workspace>/journal/`` and start the drain, which first replays
    what an earlier run left undrained. On shutdown, stop taking requests' messages and drain
    everything durable into the workspace.

    Puts the running collector at ``app.state.collector`` (``drain.status()`` reports its
    progress).
    """
    ws, lock = app.state.workspace, app.state.lock
    if ws.folder is None:
        raise WorkspaceError(
            "The collector needs a workspace folder for its journal",
            fix="Serve a workspace opened from a folder",
        )
    limits = getattr(app.state, "collector_limits", None) or CollectorLimits()
    journal = Journal(
        ws.folder / "journal",
        segment_bytes=limits.segment_bytes,
        max_backlog_bytes=limits.max_backlog_bytes,
    )

    def ingest(texts: list[str]) -> None:
        with lock:
            ws.ingest(texts, source_name="collector")

    drain = Drain(journal, ingest, max_batch_messages=limits.drain_batch_messages)
    drain.start()
    app.state.collector = _Collector(journal, drain, ws.settings.ingest, limits)
    try:
        yield
    finally:
        journal.close()
        await run_in_threadpool(drain.stop)


router = APIRouter(tags=["collect"])

_BODY_DOC: Final[dict[str, Any]] = {
    "requestBody": {
        "description": 'A Segment message (single routes) or ``{"batch": [...]}`` (batch '
        "routes); JSON under any content type, optionally gzipped.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


async def collect(request: Request) -> JSONResponse:
    """Accept Segment messages; answer once they are durable.

    Returns:
        200 ``{"success": true, "accepted": n}`` when every message is valid; otherwise an
        error body whose ``detail`` lists ``accepted`` (messages kept) and ``rejected`` (one
        entry per bad message: ``index`` in the request, ``code``, ``field``, ``message``).
    """
    state: _Collector = request.app.state.collector
    limits = state.limits
    if state.journal.overloaded:
        return _error(
            429,
            "RATE_LIMITED",
            "The collector is behind on storing events; retry later",
            headers={"Retry-After": str(limits.retry_after_seconds)},
        )
    body = await _read_body(request, limits.max_request_bytes)
    if isinstance(body, JSONResponse):
        return body
    try:
        payload = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return _error(400, "BAD_JSON", "The body is not valid JSON", fix="Send one JSON object")
    if not isinstance(payload, dict):
        return _error(
            400, "BAD_JSON", "The body is not a JSON object", received=type(payload).__name__
        )
    key = _write_key_of(request, payload)
    if key is None:
        return _error(
            401,
            "UNAUTHORIZED",
            "The write key is missing, unknown or revoked",
            fix="Send an active write key as the HTTP Basic username, the X-Write-Key header "
            "or writeKey in the body",
        )
    name = request.url.path.rsplit("/", 1)[-1]
    if name in _BATCH:
        items = payload.get("batch")
        if not isinstance(items, list):
            return _error(400, "BAD_BATCH", "A batch needs 'batch': a list of messages")
        if len(items) > limits.max_batch_messages:
            return _error(
                413,
                "TOO_MANY_MESSAGES",
                "The batch holds too many messages",
                received=len(items),
                allowed=f"at most {limits.max_batch_messages} messages per request",
                fix="Split the batch",
            )
        envelope, kind = payload, None
    else:
        items, envelope, kind = [payload], None, _SINGLE[name]
    received_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    ip = request.client.host if request.client else None
    texts: list[bytes] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        message = prepare_message(
            item,
            envelope=envelope,
            message_type=kind,
            received_at=received_at,
            ip=ip,
            source=key.name or key.key_id,
        )
        text = _ENCODER.encode(message).encode()
        problem = check_message(message, len(text), state.ingest)
        if problem is not None:
            rejected.append(
                {
                    "index": index,
                    "code": problem.code,
                    "field": problem.field,
                    "message": problem.message,
                }
            )
        # Bad messages are journaled too: ingest quarantines them with the same reason.
        texts.append(text)
    if texts:
        try:
            await asyncio.wrap_future(state.journal.append(texts))
        except OSError:
            return _error(
                503,
                "UNAVAILABLE",
                "The collector could not store the events",
                headers={"Retry-After": str(limits.retry_after_seconds)},
            )
    accepted = len(texts) - len(rejected)
    if rejected:
        return _error(
            400,
            "INVALID_MESSAGES",
            f"{len(rejected)} of {len(texts)} messages were rejected; the other {accepted} "
            "were accepted",
            fix="Correct the rejected messages (see rejected) and send only those again",
            extra={"accepted": accepted, "rejected": rejected},
        )
    return JSONResponse({"success": True, "accepted": accepted})


for _path in (*_SINGLE, *_BATCH):
    router.add_api_route(
        f"/v1/{_path}",
        collect,
        methods=["POST"],
        summary=f"Collect Segment messages ({_path})",
        openapi_extra=_BODY_DOC,
        include_in_schema=len(_path) > 1,  # the short forms are aliases
    )


@router.get(
    "/v1/projects/{write_key}/settings",
    summary="Settings for analytics.js loaded from this host",
    responses={401: {"description": "The write key is unknown or revoked"}},
)
async def project_settings(request: Request, write_key: str) -> JSONResponse:
    """What analytics.js asks its CDN for before it sends anything: the smallest valid settings,
    whose one destination (``Segment.io``) points back at this server's ``/v1``.

    Returns:
        200 with ``integrations`` (``Segment.io``: ``apiKey``, ``apiHost`` = this host +
        ``/v1``, ``protocol``), an all-enabled ``plan``, no remote plugins or middleware and
        metrics off; 401 for a key that is not an active write key.
    """
    if not is_write_key(request, write_key):
        return _error(
            401,
            "UNAUTHORIZED",
            "The write key is unknown or revoked",
            fix="Load analytics.js with an active write key (journeylens keys create write)",
        )
    enabled = {"__default": {"enabled": True, "integrations": {}}}
    settings = {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": f"{request.url.netloc}/v1",
                "protocol": request.url.scheme,
                "unbundledIntegrations": [],
                "addBundledMetadata": True,
                "maybeBundledConfigIds": {},
            }
        },
        "plan": {"track": enabled, "identify": enabled, "group": enabled},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},  # analytics.js would otherwise report to segment.io
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }
    # Short: revoking the key must reach browsers soon.
    return JSONResponse(settings, headers={"Cache-Control": "public, max-age=60"})


async def _read_body(request: Request, limit: int) -> bytes | JSONResponse:
    """The body, gunzipped, or the error response when it is too large or badly encoded.
    The size is checked from ``Content-Length`` before reading, and while reading and
    gunzipping, so a huge or zip-bomb body is never held in memory."""
    too_large = _error(
        413,
        "PAYLOAD_TOO_LARGE",
        "The request body is too large",
        allowed=f"at most {limit} bytes (after gunzip)",
        fix="Send smaller batches",
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return too_large
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        return _error(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Unsupported Content-Encoding",
            received=encoding,
            allowed="gzip or none",
        )
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(body, limit + 1)
    except zlib.error:
        return _error(400, "BAD_GZIP", "The body is not valid gzip")
    if len(body) > limit or inflater.unconsumed_tail:
        return too_large
    if not inflater.eof:
        return _error(400, "BAD_GZIP", "The gzip body is cut short")
    return body


def _write_key_of(request: Request, payload: dict[str, Any]) -> ApiKey | None:
    """The active key that may send events this request carries, or None."""
    text = _write_key(request, payload)
    if text is None or not is_write_key(request, text):
        return None
    return check_key(request, text)


def _write_key(request: Request, payload: dict[str, Any]) -> str | None:
    """The write key from HTTP Basic (username), ``X-Write-Key``, ``?writeKey=`` or the body."""
    auth = request.headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            user = base64.b64decode(auth[6:].strip(), validate=True).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            user = ""
        if user:
            return user
    found = (
        request.headers.get("x-write-key")
        or request.query_params.get("writeKey")
        or payload.get("writeKey")
    )
    return found if isinstance(found, str) and found else None


def _no_constant(name: str) -> None:
    # NaN and Infinity are not JSON; accepting them would store text DuckDB cannot parse.
    raise ValueError(f"{name} is not valid JSON")


def _error(
    status: int,
    code: str,
    message: str,
    *,
    received: Any = None,
    allowed: str | None = None,
    fix: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The API's one error shape, plus top-level ``code`` and ``message`` for the SDKs."""
    detail = {
        "problem": message,
        "received": None if received is None else repr(received),
        "allowed": allowed,
        "fix": fix,
    } | (extra or {})
    body = {
        "error": {"code": code, "message": message, "detail": detail},
        "code": code,
        "message": message,
    }
    return JSONResponse(body, status_code=status, headers=headers)
