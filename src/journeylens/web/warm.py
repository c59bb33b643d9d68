"""Cache warm-up: the dashboard's pages computed before anyone asks for them.

A marketer's first click on a large workspace would otherwise wait for the analysis (seconds at a
million events). ``journeylens serve`` starts a :class:`Warmer`: a background thread that
computes the default view of every cached page (no filters, default parameters: what the menu
links open) into the page cache, and does it again whenever the data version moves (new events
drained from the collector, an identity fix, an erasure).

It stays out of the way: it holds the workspace lock for one page at a time, so a request waits
at most for the page being warmed; it warms each data version once, and at most once per
``every`` seconds, so a steady stream of collected events does not keep it computing; and a page
that fails is logged and skipped (its request will show the error).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from journeylens.web.cache import ResultCache
from journeylens.web.pages import PAGES
from journeylens.web.scope import Filters, Scope

__all__ = ["WarmStatus", "Warmer"]

_log = logging.getLogger("journeylens.web")


@dataclass(frozen=True)
class WarmStatus:
    """What the warmer has done.

    Attributes:
        version: the data version last warmed completely (None before the first pass ends).
        passes: complete passes over the pages.
        pages: page views computed or found cached, over all passes.
        failures: pages whose computation raised (logged and skipped).
        last_seconds: how long the last complete pass took.
    """

    version: str | None
    passes: int
    pages: int
    failures: int
    last_seconds: float | None


class Warmer:
    """Keeps the default view of every cached page in ``cache`` for the current data version.

    ``workspace`` and ``lock`` are the server's (``app.state``); ``every`` is the least time in
    seconds between the starts of two passes and ``poll`` how often the data version is read.
    """

    def __init__(
        self,
        workspace: Any,
        lock: Any,
        cache: ResultCache,
        *,
        every: float = 30.0,
        poll: float = 1.0,
    ) -> None:
        self._workspace = workspace
        self._lock = lock
        self._cache = cache
        self._every = every
        self._poll = poll
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._version: str | None = None
        self._passes = self._pages = self._failures = 0
        self._last_seconds: float | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="page-warmer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the page being computed (if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def status(self) -> WarmStatus:
        return WarmStatus(
            self._version, self._passes, self._pages, self._failures, self._last_seconds
        )

    def wait(self, timeout: float) -> bool:
        """Block until the current data version is warmed (or ``timeout`` seconds pass).

        Returns:
            Whether every cached page's default view is in the cache for the data version
            the workspace has now.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                with self._lock:
                    current = self._workspace.data_version()
                left = deadline - time.monotonic()
                if self._version == current or left <= 0:
                    return self._version == current
                self._changed.wait(min(left, self._poll))

    def _loop(self) -> None:
        started = float("-inf")
        while not self._stop.is_set():
            with self._lock:
                version = self._workspace.data_version()
            if version != self._version and time.monotonic() - started >= self._every:
                started = time.monotonic()
                if self._warm(version):
                    with self._changed:
                        self._version = version
                        self._passes += 1
                        self._last_seconds = time.monotonic() - started
                        self._changed.notify_all()
            self._stop.wait(self._poll)

    def _warm(self, version: str) -> bool:
        """One pass over the pages. Returns False if it was stopped or the data moved on."""
        with self._lock:  # every page's form lists the event names
            Scope(self._workspace, self._cache, Filters()).event_names()
        for page in [p for p in PAGES.values() if p.cached]:
            if self._stop.is_set():
                return False
            with self._lock:
                if self._workspace.data_version() != version:
                    return False  # new data: the next pass warms that instead
                try:
                    page.view(Scope(self._workspace, self._cache, Filters()), page.defaults())
                    self._pages += 1
                except Exception:  # any failure: the page's own request will report it
                    _log.exception("warming the page %r failed", page.slug or "overview")
                    self._failures += 1
        return True
