"""The HTTP server: one FastAPI app over one workspace.

``create_app(path)`` builds the app; uvicorn runs it (``journeylens serve``). On start-up the
lifespan opens the workspace once (``api.state`` says how routes share it), loads the API keys,
and then enters the lifespans of the collector and the dashboard, if they define one (a
``lifespan(app)`` async context manager next to their ``router``): the collector replays its
journal and starts its drain there, after the workspace is open and before it is closed.

Routers: the REST API under ``/api`` (analyses, persons, segments, predictions, ingest, keys),
``/health``, the collector (``journeylens.api.collect``: ``/v1/...``) and the dashboard
(``journeylens.web``) when that package is installed. CORS is open on the collector's ``/v1/``
paths only: browsers send events from any site, but no other site may read the API.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

import journeylens
from journeylens.api import analyses, experiments, persons, segments, status
from journeylens.api import keys as keys_routes
from journeylens.api.cache import ResultCache
from journeylens.api.errors import install_error_handlers
from journeylens.api.keys import KeyCache
from journeylens.settings import Settings

__all__ = ["create_app"]

#: Routers that plug into the app when their module is present; each exposes ``router`` and may
#: expose ``lifespan``.
_PLUGGED = (
    "journeylens.api.collect",
    "journeylens.api.journeys",
    "journeylens.api.surveys",
    "journeylens.web",
)


def create_app(
    workspace: str | Path,
    *,
    settings: Settings | dict[str, Any] | None = None,
    cache_entries: int = 128,
    warm: bool = False,
) -> FastAPI:
    """The journeylens server over the workspace folder ``workspace``.

    ``settings`` replaces the workspace's stored settings (as ``Workspace.open`` does);
    ``cache_entries`` bounds the analysis result cache; ``warm`` computes the dashboard's
    pages in the background from the start and after the data changes
    (``journeylens.web.warm``; ``journeylens serve`` turns it on).

    Returns:
        The FastAPI app. Its OpenAPI document is at ``/openapi.json`` and the interactive docs
        at ``/docs``; the workspace opens when the app starts (uvicorn, or ``with
        TestClient(app)``) and closes when it stops.
    """
    folder = Path(workspace)
    plugged = [m for m in (_import(name) for name in _PLUGGED) if m is not None]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from journeylens.workspace import Workspace

        ws = Workspace.open(folder, settings=settings)
        lock = threading.RLock()
        app.state.workspace = ws
        app.state.lock = lock
        app.state.cache = ResultCache(cache_entries)
        app.state.keys = KeyCache(lambda: ws.key_rows(), lock)
        app.state.keys.reload()
        try:
            async with AsyncExitStack() as stack:
                for module in plugged:
                    if hasattr(module, "lifespan"):
                        await stack.enter_async_context(module.lifespan(app))
                yield
        finally:
            with lock:
                ws.close()

    app = FastAPI(
        title="journeylens",
        version=journeylens.__version__,
        summary="Customer journey analytics: collect, unify, analyse and act on every channel.",
        lifespan=lifespan,
    )
    app.state.warm = warm
    install_error_handlers(app)
    app.include_router(status.router)
    for module in (analyses, experiments, persons, segments, keys_routes):
        app.include_router(module.router)
    for module in plugged:
        app.include_router(module.router)
    app.add_middleware(_CollectorCors)
    return app


class _CollectorCors:
    """CORS for the collector's ``/v1/`` paths, and nothing for the rest of the app."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
            max_age=86_400,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def _import(name: str) -> ModuleType | None:
    """The module ``name`` if it is installed and exposes a ``router`` (the dashboard is
    optional), else None."""
    try:
        found = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None
    if found is None:
        return None
    module = importlib.import_module(name)
    return module if hasattr(module, "router") else None
