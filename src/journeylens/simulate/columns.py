"""Vectorised builders for the simulator's string columns: ids, ISO times and JSON text.

Everything here works on whole arrays (numpy in, pyarrow out) so that no Python code runs per
event. JSON objects are assembled from ``,"key":value`` fragments joined with
``pyarrow.compute.binary_join_element_wise`` (nulls replaced by ""): a null fragment is simply left
out, which is how optional keys (a campaign only on tagged visits, traits only when known) are
expressed. (``null_handling="skip"`` would be the natural choice, but in pyarrow 26 it drops rows
whose fragments are all null, so the leading comma is cut off instead.)

Values joined as JSON strings must not need escaping: every generator draws them from the
controlled vocabularies in :mod:`journeylens.simulate.vocab` (checked there) or from digits and
hex. The one free-text column, feedback, is escaped with :func:`json.dumps` once per distinct
text and then gathered by index.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "choose",
    "const",
    "field_num",
    "field_raw",
    "field_str",
    "hex_ids",
    "iso_times",
    "json_object",
    "pick",
    "timestamps",
    "uuid_ids",
]

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)

#: A fragment is a pyarrow string array of ``,"key":value`` pieces (null = key absent).
Fragment = pa.Array


def _hex_bytes(rng: np.random.Generator, n: int, nbytes: int) -> np.ndarray:
    """``n`` rows of ``2 * nbytes`` lowercase hex characters as a uint8 matrix."""
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    out = np.empty((n, nbytes * 2), dtype=np.uint8)
    out[:, 0::2] = _HEX[raw >> 4]
    out[:, 1::2] = _HEX[raw & 0x0F]
    return out


def _to_strings(chars: np.ndarray) -> pa.Array:
    """A uint8 matrix (one row per string, fixed width) as a pyarrow string array."""
    n, width = chars.shape
    if n == 0:
        return pa.array([], type=pa.string())
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
    data = pa.py_buffer(np.ascontiguousarray(chars).tobytes())
    return pa.StringArray.from_buffers(n, offsets, data)


def uuid_ids(rng: np.random.Generator, n: int, *, upper: bool = False) -> pa.Array:
    """``n`` random version-4-shaped UUID strings (``8-4-4-4-12`` hex) drawn from ``rng``."""
    hexes = _hex_bytes(rng, n, 16)
    hexes[:, 12] = ord("4")  # version nibble, so the ids look like uuid4 to any validator
    hexes[:, 16] = _HEX[8 + (hexes[:, 16] % 4)]  # RFC 4122 variant bits 10xx
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for start, stop, dest in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        out[:, dest : dest + stop - start] = hexes[:, start:stop]
    if upper:
        out = np.where((out >= ord("a")) & (out <= ord("f")), out - 32, out).astype(np.uint8)
    return _to_strings(out)


def hex_ids(rng: np.random.Generator, n: int, nbytes: int, prefix: str = "") -> pa.Array:
    """``n`` random ``prefix + hex`` strings with ``2 * nbytes`` hex characters."""
    ids = _to_strings(_hex_bytes(rng, n, nbytes))
    return pc.binary_join_element_wise(prefix, ids, "") if prefix else ids


def timestamps(micros: np.ndarray) -> pa.Array:
    """Epoch microseconds as a ``timestamp[us, tz=UTC]`` array."""
    return pa.array(micros.astype(np.int64), type=pa.timestamp("us", tz="UTC"))


def iso_times(micros: np.ndarray) -> pa.Array:
    """Epoch microseconds as ISO-8601 UTC strings with millisecond precision (``…Z``)."""
    ts = pa.array((micros // 1000).astype(np.int64), type=pa.timestamp("ms"))
    # %S of a millisecond timestamp already prints the fraction ("05.123").
    return pc.strftime(ts, format="%Y-%m-%dT%H:%M:%SZ") if len(ts) else pa.array([], pa.string())


def const(value: str | None, n: int) -> pa.Array:
    """A string array of ``n`` copies of ``value`` (all null when ``value`` is None)."""
    return (
        pa.nulls(n, pa.string()) if value is None else pa.repeat(pa.scalar(value, pa.string()), n)
    )


def pick(vocab: Sequence[str] | pa.Array, index: np.ndarray) -> pa.Array:
    """Gather ``vocab[index]`` for every row; a negative index gives null."""
    table = vocab if isinstance(vocab, pa.Array) else pa.array(list(vocab), type=pa.string())
    idx = np.asarray(index, dtype=np.int64)
    mask = idx < 0
    if mask.any():
        return table.take(pa.array(np.where(mask, 0, idx), mask=mask))
    return table.take(pa.array(idx))


def choose(index: np.ndarray, options: Sequence[pa.Array]) -> pa.Array:
    """Row ``i`` takes ``options[index[i]][i]``: per-row choice between same-length arrays."""
    return pc.choose(pa.array(np.asarray(index, dtype=np.int8)), *options)


def _mask(values: pa.Array, present: np.ndarray | None) -> pa.Array:
    if present is None:
        return values
    return pc.if_else(pa.array(present), values, pa.scalar(None, pa.string()))


def field_str(key: str, values: pa.Array, present: np.ndarray | None = None) -> Fragment:
    """``,"key":"value"`` fragments; null where ``values`` is null or ``present`` is False."""
    return _mask(pc.binary_join_element_wise(f',"{key}":"', values, '"', ""), present)


def field_num(key: str, values: np.ndarray, present: np.ndarray | None = None) -> Fragment:
    """``,"key":number`` fragments from a numeric numpy array (NaN means absent)."""
    arr = np.asarray(values)
    nan = np.isnan(arr) if arr.dtype.kind == "f" else None
    text = pc.cast(pa.array(arr, mask=nan), pa.string())
    return _mask(pc.binary_join_element_wise(f',"{key}":', text, ""), present)


def field_raw(key: str, values: pa.Array, present: np.ndarray | None = None) -> Fragment:
    """``,"key":<json>`` fragments where ``values`` already hold JSON text (objects, arrays)."""
    return _mask(pc.binary_join_element_wise(f',"{key}":', values, ""), present)


def json_object(fragments: Sequence[Fragment], n: int) -> pa.Array:
    """Join fragments into one JSON object per row; absent (null) keys are skipped."""
    if not fragments:
        return const("{}", n)
    body = pc.binary_join_element_wise(*fragments, "", null_handling="replace")
    return pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(body, 1), "}", "")
