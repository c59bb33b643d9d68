"""Computed pages kept for as long as the data under them stays the same.

A page's numbers depend only on what it asks (page, parameters, filters) and on the data
(``Workspace.data_version``, which changes on every ingest or identity fix) plus, for a segment
filter, the saved definition of that segment. Those together are the key, so a stale entry is
never served: new data gives new keys and old entries age out of the bounded LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["ResultCache"]


class ResultCache:
    """A thread-safe least-recently-used map of computed values, at most ``size`` entries.

    >>> cache = ResultCache(size=2)
    >>> cache.get_or_compute(("overview", 1), lambda: "computed")
    'computed'
    >>> cache.get_or_compute(("overview", 1), lambda: "again")
    'computed'
    >>> cache.hits, cache.misses
    (1, 1)
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._guard = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value stored under ``key``, computing and storing it first if absent.

        ``compute`` runs outside the cache's own lock (the caller holds the workspace lock), so
        a slow page does not block cache reads of other pages.

        Returns:
            The cached or freshly computed value.
        """
        with self._guard:
            if key in self._values:
                self._values.move_to_end(key)
                self.hits += 1
                return self._values[key]
        value = compute()
        with self._guard:
            self.misses += 1
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every entry (an erasure: entries may hold the erased person's rows)."""
        with self._guard:
            self._values.clear()
