"""What the running server holds, and the one way routes reach the workspace.

``create_app`` opens ONE ``Workspace`` per server and puts it on ``app.state.workspace``, with an
``RLock`` on ``app.state.lock``: a DuckDB connection is not safe to use from two threads at once,
and FastAPI runs plain ``def`` routes on a thread pool. So every use of the workspace (reads,
ingest, erasure) goes through ``locked_workspace``. ``app.state.cache`` holds analysis results
(``ResultCache``) and ``app.state.keys`` the API keys (``KeyCache``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from journeylens.workspace import Workspace

__all__ = ["locked_workspace"]


@contextmanager
def locked_workspace(request: Request) -> Iterator[Workspace]:
    """The server's workspace, held under its lock for the block:
    ``with locked_workspace(request) as ws: ...``."""
    state = request.app.state
    with state.lock:
        yield state.workspace
