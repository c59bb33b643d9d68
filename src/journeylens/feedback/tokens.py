"""Terms of a feedback text: Korean nouns and English lemmas, the words topics are named by.

Each text is cut into terms the same way whatever its language, so a bilingual corpus counts
in one vocabulary:

- **Korean** (any text with a Hangul syllable) goes through Kiwi's morphological analyser. Its
  common and proper nouns (``NNG``, ``NNP``) are terms; a noun word Kiwi splits into several
  nouns ("고객센터" → 고객 + 센터) also gives the whole compound, which names the thing better
  than its parts. Dependent nouns (``NNB``:
  것, 수, 때문) carry no topic and are dropped. A Hangul noun of one syllable is kept: a
  syllable is a whole morpheme ("앱", "값"), unlike a single Latin letter.
- **Latin-script words** (a whole English text, or English words inside a Korean one) are
  lower-cased and lemmatised with simplemma ("deliveries" → "delivery", "took" → "take"), then
  words in :data:`STOPWORDS` and words shorter than two letters are dropped.
- Numbers are never terms.

One ``Kiwi`` instance is created on first use (it loads its model in about a second) and then
shared; batches go through Kiwi's batch interface and English lemmas are memoised, so a batch
of thousands of texts takes a fraction of a second.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Final

import simplemma

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

__all__ = ["STOPWORDS", "extract_terms"]

_STOPWORD_TEXT = """
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing done down during each else even
ever few for from further get got had has have having he her here hers herself him himself
his how however i if in into is it its itself just let like lot many may me might mine more
most much must my myself no nor not now of off on once one only or other our ours ourselves
out over own per please quite rather really same she should so some still such than thank
thanks that the their theirs them themselves then there these they thing this those though
through to too under until up upon us very via was we well were what when where whether which
while who whom whose why will with within without would yet you your yours yourself
yourselves ok okay yes im ive id dont didnt doesnt isnt wasnt cant wont
"""
#: English function words, auxiliaries, pronouns, generic intensifiers and feedback filler
#: ("thanks", "please") that say nothing about what a customer talks about. Compared after
#: lemmatising too, so "was"/"were" are caught as "be".
STOPWORDS: Final = frozenset(_STOPWORD_TEXT.split())

# The Kiwi tags that are topic terms: common and proper nouns.
_NOUN_TAGS: Final = frozenset({"NNG", "NNP"})
# Kiwi's tag for a run of Latin letters inside Korean text.
_LATIN_TAG: Final = "SL"
_HANGUL: Final = re.compile(r"[\uac00-\ud7a3]")
# A Latin word, with an inner apostrophe ("don't") kept so the stop list can catch it whole.
_WORD: Final = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


@cache
def _kiwi() -> Kiwi:
    # Imported here so that importing journeylens does not load the morphology model.
    from kiwipiepy import Kiwi

    return Kiwi()


@cache
def _lemma(word: str) -> str:
    return simplemma.lemmatize(word, lang="en").lower()


def _latin_term(word: str) -> str | None:
    word = word.lower().replace("’", "'")
    if "'" in word:
        # "don't" → "dont" is a stopword; "customer's" → "customer" keeps the noun.
        head, _, tail = word.partition("'")
        word = head if tail == "s" else head + tail
    if len(word) < 2 or word in STOPWORDS:
        return None
    lemma = _lemma(word)
    if len(lemma) < 2 or lemma in STOPWORDS:
        return None
    return lemma


def _english_terms(text: str) -> list[str]:
    return [t for t in map(_latin_term, _WORD.findall(text)) if t is not None]


def _korean_terms(tokens: Sequence) -> list[str]:
    terms: list[str] = []
    run: list[str] = []
    end = -1
    for token in [*tokens, None]:
        # A noun continues the run only if it starts exactly where the previous one ended: the
        # writer wrote them as one word ("고객센터"). Spaced nouns ("가격 최고") stay apart.
        is_noun = token is not None and token.tag in _NOUN_TAGS
        adjacent = is_noun and run and token.start == end
        if run and not adjacent:
            if len(run) > 1:
                terms.append("".join(run))
            run = []
        if is_noun:
            terms.append(token.form)
            run.append(token.form)
            end = token.start + token.len
        elif token is not None and token.tag == _LATIN_TAG:
            latin = _latin_term(token.form)
            if latin is not None:
                terms.append(latin)
    return terms


def extract_terms(texts: Iterable[str | None]) -> list[list[str]]:
    """The topic terms of each text (rules in the module docstring), in text order.

    Args:
        texts: feedback texts in Korean, English or both; None and blank texts have no terms.

    Returns:
        One list per text, aligned with ``texts``: its terms in the order they occur, repeats
        kept (a term said twice counts twice), each lower-cased; Korean nouns, their adjacent
        compounds, and English lemmas.

    >>> extract_terms(["The deliveries were late!", "고객센터 응대가 느려요", None])
    [['delivery', 'late'], ['고객', '센터', '고객센터', '응대'], []]
    """
    texts = list(texts)
    out: list[list[str]] = [[] for _ in texts]
    korean = []
    for i, text in enumerate(texts):
        if not text:
            continue
        if _HANGUL.search(text):
            korean.append(i)
        else:
            out[i] = _english_terms(text)
    if korean:
        analysed = _kiwi().tokenize([texts[i] for i in korean])
        for i, tokens in zip(korean, analysed, strict=True):
            out[i] = _korean_terms(tokens)
    return out
