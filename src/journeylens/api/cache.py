"""Analysis results kept for reuse, keyed by analysis, spec and the workspace's data version.

A dashboard page asks for the same few analyses again and again; on a million events each takes
seconds, its result is small. A result is reused only while the data under it is unchanged
(``Workspace.data_version`` moves on every ingest that adds rows, every erasure and every identity
override), so a cached answer is never stale. The least recently used results are dropped past
``max_entries``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

from journeylens.analysis import get_analysis, parse_spec
from journeylens.analysis.base import Result, Spec

__all__ = ["ResultCache"]

T = TypeVar("T")


class ResultCache:
    """A bounded, thread-safe map from (analysis, spec JSON, data version) to its ``Result``
    (and from any key naming its data version to a value, for the dashboard's own queries)."""

    def __init__(self, max_entries: int = 128) -> None:
        self._max = max_entries
        self._results: OrderedDict[Hashable, Any] = OrderedDict()
        self._guard = threading.Lock()
        self.hits = 0
        self.misses = 0

    def run(
        self, workspace: Any, name: str, spec: Spec | Mapping[str, Any] | str
    ) -> tuple[Result, bool]:
        """The result of analysis ``name`` with ``spec`` over ``workspace.events()``, from the
        cache when the same spec ran on the same data version.

        The caller holds the workspace lock (``app.state.lock``): the version read and the run
        must see the same data.

        Returns:
            ``(result, cached)``: the ``Result`` and whether it came from the cache.
        """
        parsed = parse_spec(name, spec)
        # events() first: it brings the derived tables up to date, which can move the version.
        events = workspace.events()
        key = ("analysis", name, parsed.model_dump_json(), workspace.data_version())
        return self.get_or_compute(key, lambda: get_analysis(name).run(events, parsed))

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> tuple[T, bool]:
        """The value cached under ``key``, or ``compute()`` stored under it. ``key`` must name
        everything the value depends on, the data version included.

        Returns:
            ``(value, cached)``: the value and whether it came from the cache.
        """
        with self._guard:
            if key in self._results:
                self._results.move_to_end(key)
                self.hits += 1
                return self._results[key], True
        value = compute()
        with self._guard:
            self.misses += 1
            self._results[key] = value
            while len(self._results) > self._max:
                self._results.popitem(last=False)
        return value, False

    def clear(self) -> None:
        with self._guard:
            self._results.clear()
