"""Embeddings: the bundled e5 model, the per-text cache and where the cache lives."""

from __future__ import annotations

import numpy as np
import pytest

import journeylens.feedback.embed as embed_module
from journeylens.feedback.embed import (
    DIM,
    EmbeddingCache,
    cache_dir,
    default_cache,
    embed,
    normalise_text,
    use_cache_dir,
)


class CountingEncoder:
    """A stand-in for e5: a vector from the text's length, and a count of the texts it saw."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def passage(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        out[:, 0] = [len(t) for t in texts]
        return out

    @property
    def texts_seen(self) -> int:
        return sum(len(c) for c in self.calls)


@pytest.fixture
def own_cache_dir(tmp_path, monkeypatch):
    """Point the process-wide default cache at a temporary folder for one test."""
    monkeypatch.setattr(embed_module, "_chosen_dir", None)
    monkeypatch.setattr(embed_module, "_default_cache", None)
    use_cache_dir(tmp_path / "cache")
    yield tmp_path / "cache"
    use_cache_dir(tmp_path / "closed")  # closes the test's cache before the folder goes


def test_a_cached_text_is_not_sent_to_the_model_again():
    model = CountingEncoder()
    cache = EmbeddingCache.memory()
    first = embed(["late parcel", "배송 지연"], cache=cache, model=model)
    again = embed(["배송 지연", "late parcel"], cache=cache, model=model)
    assert model.texts_seen == 2
    np.testing.assert_array_equal(again, first[::-1])


def test_texts_equal_after_normalising_are_embedded_once():
    model = CountingEncoder()
    out = embed(
        ["Fast  delivery ", "Fast delivery", "Fast\ndelivery"],
        cache=EmbeddingCache.memory(),
        model=model,
    )
    assert model.calls == [["Fast delivery"]]
    assert out.shape == (3, DIM)
    assert (out == out[0]).all()


def test_only_the_missing_texts_of_a_batch_reach_the_model():
    model = CountingEncoder()
    cache = EmbeddingCache.memory()
    embed(["a", "b"], cache=cache, model=model)
    embed(["a", "b", "c", "d"], cache=cache, model=model)
    assert model.calls == [["a", "b"], ["c", "d"]]


def test_progress_counts_cached_texts_at_once_and_ends_at_the_total():
    model = CountingEncoder()
    cache = EmbeddingCache.memory()
    embed(["x"], cache=cache, model=model)
    seen: list[tuple[int, int]] = []
    texts = ["x"] + [f"text {i}" for i in range(100)]
    embed(texts, cache=cache, model=model, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (1, 101)
    assert seen[-1] == (101, 101)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) == 3  # the lookup, then two model batches of at most 64


def test_the_cache_file_outlives_the_process_that_wrote_it(tmp_path):
    path = tmp_path / "emb.sqlite3"
    writer = EmbeddingCache(path)
    embed(["kept on disk"], cache=writer, model=CountingEncoder())
    writer.close()
    model = CountingEncoder()
    reader = EmbeddingCache(path)
    out = embed(["kept on disk"], cache=reader, model=model)
    assert model.texts_seen == 0
    assert out[0, 0] == len("kept on disk")
    assert len(reader) == 1


def test_use_cache_dir_moves_the_default_cache_into_that_folder(own_cache_dir):
    assert cache_dir() == own_cache_dir
    embed(["hello"], model=CountingEncoder())
    assert (own_cache_dir / "embeddings.sqlite3").is_file()
    assert len(default_cache()) == 1


def test_the_cache_folder_comes_from_the_environment_when_not_chosen(tmp_path, monkeypatch):
    monkeypatch.setattr(embed_module, "_chosen_dir", None)
    monkeypatch.setenv("JOURNEYLENS_CACHE_DIR", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    monkeypatch.delenv("JOURNEYLENS_CACHE_DIR")
    assert cache_dir().parts[-2:] == (".cache", "journeylens")


def test_no_texts_gives_an_empty_matrix_without_touching_the_model():
    model = CountingEncoder()
    out = embed([], cache=EmbeddingCache.memory(), model=model)
    assert out.shape == (0, DIM)
    assert model.calls == []


def test_normalising_folds_whitespace_and_composes_hangul():
    decomposed = "\u1107\u1162\u1109\u1169\u11bc"  # 배송 as separate jamo (NFD)
    assert normalise_text(f"  {decomposed}\t\n빨라요 ") == "배송 빨라요"


def test_the_bundled_model_gives_unit_vectors_that_place_similar_texts_close():
    out = embed(
        ["The delivery was late", "배송이 늦었어요", "I love this blender"],
        cache=EmbeddingCache.memory(),
    )
    assert out.shape == (3, DIM)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-3)
    assert out[0] @ out[1] > out[0] @ out[2]
