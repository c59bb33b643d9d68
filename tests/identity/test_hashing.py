"""The vectorised hash equals its plain-Python definition, and ids have their fixed format."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.identity.hashing import P1, P2, P3, SEED, hash_strings, hex_ids

MASK = (1 << 64) - 1


def fmix(x: int) -> int:
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK
    return x ^ (x >> 33)


def reference_hash(text: str) -> int:
    data = text.encode("utf-8")
    h = int(SEED) ^ ((len(data) * int(P1)) & MASK)
    for i in range(0, len(data), 8):
        word = int.from_bytes(data[i : i + 8].ljust(8, b"\0"), "little")
        h ^= fmix((word * int(P2)) & MASK)
        h = ((h << 27) | (h >> 37)) & MASK
        h = (h * int(P1) + int(P3)) & MASK
    return fmix(h)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=20))
def test_hash_strings_matches_its_plain_python_definition(texts):
    got = hash_strings(pa.array(texts, pa.string()))
    assert got.tolist() == [reference_hash(t) for t in texts]


def test_hash_strings_reads_sliced_and_chunked_arrays():
    texts = ["alpha", "beta-gamma-delta", "", "ünïcödé", "x" * 17]
    whole = hash_strings(pa.array(texts))
    assert hash_strings(pa.array(texts).slice(1, 3)).tolist() == whole[1:4].tolist()
    chunked = pa.chunked_array([pa.array(texts[:2]), pa.array(texts[2:])])
    assert hash_strings(chunked).tolist() == whole.tolist()


def test_hash_strings_is_fixed_across_runs():
    # A stored person_id must never change: pin one value.
    assert int(hash_strings(pa.array(["u1"]))[0]) == 0x0F696EE301C195AF


def test_hex_ids_are_the_prefix_and_sixteen_hex_digits():
    hashes = np.array([0, 255, 2**64 - 1, 0x0123456789ABCDEF], dtype=np.uint64)
    assert hex_ids("p_", hashes).to_pylist() == [
        "p_0000000000000000",
        "p_00000000000000ff",
        "p_ffffffffffffffff",
        "p_0123456789abcdef",
    ]
