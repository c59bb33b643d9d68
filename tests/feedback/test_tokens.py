"""Terms of feedback texts: Korean nouns via Kiwi, English lemmas via simplemma."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from journeylens.feedback.tokens import STOPWORDS, extract_terms


def test_english_words_are_lemmatised_lower_cased_and_stopwords_dropped():
    assert extract_terms(["The Deliveries were LATE and the boxes damaged"]) == [
        ["delivery", "late", "box", "damage"]
    ]


def test_korean_texts_give_their_nouns_and_a_split_noun_word_gives_its_compound():
    assert extract_terms(["고객센터 응대가 너무 느려요"]) == [["고객", "센터", "고객센터", "응대"]]
    # Spaced nouns stay apart; endings, adverbs and verbs are not terms.
    assert extract_terms(["반품 절차 문제로 화가 나요"]) == [["반품", "절차", "문제", "화"]]


def test_english_words_inside_a_korean_text_are_lemmatised_too():
    assert extract_terms(["앱 결제 오류, app crashes"]) == [["앱", "결제", "오류", "app", "crash"]]


def test_numbers_short_words_blank_and_missing_texts_give_no_terms():
    assert extract_terms(["3 boxes x 12", "", "   ", None, "배송 2번"]) == [
        ["box"],
        [],
        [],
        [],
        ["배송"],
    ]


def test_contractions_are_caught_by_the_stop_list_and_possessives_keep_the_noun():
    assert extract_terms(["I don't like the customer's wait"]) == [["customer", "wait"]]


@given(st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=8))
def test_every_text_gets_one_list_of_lower_case_non_stopword_terms(texts):
    terms = extract_terms(texts)
    assert len(terms) == len(texts)
    for text_terms in terms:
        for term in text_terms:
            assert term == term.lower()
            assert term not in STOPWORDS
            assert not term.isdigit()
