"""Language detection by script share: Korean, English or other."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from journeylens.feedback.language import LANGUAGES, detect_language


def test_korean_english_and_other_texts_are_told_apart():
    texts = ["배송이 정말 빨라요", "The refund took forever", "お届けが早い", "Доставка"]
    assert list(detect_language(texts)) == ["ko", "en", "other", "other"]


def test_korean_with_english_words_mixed_in_is_korean():
    assert list(detect_language(["앱 UI가 너무 느려요", "AS 센터 응대 good"])) == ["ko", "ko"]


def test_an_english_text_naming_one_korean_brand_stays_english():
    assert list(detect_language(["I ordered the 참이슬 gift set and it came broken"])) == ["en"]


def test_consonant_only_korean_slang_counts_as_korean():
    assert list(detect_language(["ㅋㅋㅋㅋ", "ㅠㅠ"])) == ["ko", "ko"]


def test_blank_none_digits_and_emoji_are_other():
    assert list(detect_language(["", "   ", None, "10/10", "👍👍", "!!!"])) == ["other"] * 6


def test_an_empty_batch_gives_an_empty_array():
    out = detect_language([])
    assert isinstance(out, np.ndarray)
    assert out.shape == (0,)


@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), max_size=20))
def test_every_text_gets_exactly_one_known_language(texts):
    out = detect_language(texts)
    assert len(out) == len(texts)
    assert set(out) <= set(LANGUAGES)
