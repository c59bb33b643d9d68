"""Stable 64-bit hashes for identifiers, edges and persons, vectorised over Arrow strings.

``person_id`` and ``edge_id`` are stored, shown to users and passed back (an invalid edge is
named by its ``edge_id``), so they must be the same on every machine, every run and every
version. Python's ``hash`` is salted per process and Arrow's internal hashes are not promised
to stay put, so journeylens defines its own, small, fully specified hash and computes it with
numpy over the Arrow buffers (no Python loop per value).

``hash_strings`` (the definition; ``reference_hash`` in the tests is the same in plain Python):

    h = SEED ^ (len(utf8) * P1)
    for each 8-byte little-endian word w of the UTF-8 bytes (the last one zero-padded):
        h = rotl64(h ^ fmix64(w * P2), 27) * P1 + P3
    result = fmix64(h)

``fmix64`` is MurmurHash3's 64-bit finaliser, so every input bit reaches every output bit.
With 64 bits, 10 million edges collide with probability about 3e-6.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = [
    "P1",
    "P2",
    "P3",
    "SEED",
    "edge_hashes",
    "fmix64",
    "hash_strings",
    "hex_ids",
    "node_hashes",
]

SEED = np.uint64(0x9E3779B97F4A7C15)
P1 = np.uint64(0xC2B2AE3D27D4EB4F)
P2 = np.uint64(0x165667B19E3779F9)
P3 = np.uint64(0x27D4EB2F165667C5)
_FM1 = np.uint64(0xFF51AFD7ED558CCD)
_FM2 = np.uint64(0xC4CEB9FE1A85EC53)
_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2").view(np.uint8)


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser on a uint64 array (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(33))
    x = x * _FM1
    x = x ^ (x >> np.uint64(33))
    x = x * _FM2
    return x ^ (x >> np.uint64(33))


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def hash_strings(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Hash every string of ``values`` (nulls hash like the empty string).

    Returns:
        A ``uint64`` array, one hash per value, defined in the module docstring.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.large_string())
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    _, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[values.offset : values.offset + n + 1]
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    if values.null_count:
        lengths = np.where(values.is_null().to_numpy(zero_copy_only=False), 0, lengths)
    raw = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    # Eight zero bytes of padding let every word be read whole, even at the very end; a strided
    # uint64 view with a one-byte stride reads the (unaligned) word starting at any byte.
    padded = np.zeros(len(raw) + 8, dtype=np.uint8)
    padded[: len(raw)] = raw
    words = np.ndarray(shape=(len(raw) + 1,), dtype="<u8", buffer=padded, strides=(1,))

    with np.errstate(over="ignore"):
        h = SEED ^ (lengths.astype(np.uint64) * P1)
        active = np.flatnonzero(lengths > 0)
        position = 0
        while active.size:
            remaining = lengths[active] - position
            w = words[starts[active] + position]
            # Bytes past the end of the string belong to the next one: mask them out.
            short = remaining < 8
            if short.any():
                bits = (remaining[short] * 8).astype(np.uint64)
                w[short] &= (np.uint64(1) << bits) - np.uint64(1)
            h[active] = _rotl(h[active] ^ fmix64(w * P2), 27) * P1 + P3
            position += 8
            active = active[remaining > 8]
        return fmix64(h)


def node_hashes(type_hashes: np.ndarray, value_hashes: np.ndarray) -> np.ndarray:
    """The hash of an identifier (type, value), from the hashes of its type name and value."""
    with np.errstate(over="ignore"):
        return fmix64(value_hashes ^ (type_hashes * P2))


def edge_hashes(left: np.ndarray, right: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """The hash of an edge: its two node hashes sorted (so direction does not matter), and its
    kind code (0 = alias, 1 = message)."""
    lo = np.minimum(left, right)
    hi = np.maximum(left, right)
    with np.errstate(over="ignore"):
        return fmix64(fmix64(lo ^ (hi * P1)) ^ (kind.astype(np.uint64) * P3))


def hex_ids(prefix: str, hashes: np.ndarray) -> pa.StringArray:
    """Format hashes as ``prefix`` followed by 16 lower-case hex digits (big-endian), e.g.
    ``p_00ff…``, without a Python loop."""
    n = len(hashes)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    width = len(head) + 16
    out = np.empty((n, width), dtype=np.uint8)
    out[:, : len(head)] = head
    be = hashes.astype(">u8").view(np.uint8).reshape(n, 8)
    out[:, len(head) :] = _HEX.reshape(256, 2)[be].reshape(n, 16)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()))
