"""Which language a feedback text is in: Korean, English or something else.

journeylens serves a bilingual (Korean + English) product, so the question asked of each text is
narrow — is it Korean, English or neither — and a script count answers it without a model:

- Count the *letters* of the text: Hangul (syllables U+AC00–U+D7A3 and the compatibility jamo
  U+3131–U+318E, so "ㅋㅋㅋ" and "ㅠㅠ" count) and Latin letters (A–Z, a–z, and the accented
  Latin-1/Latin Extended-A letters U+00C0–U+017F). Digits, punctuation, emoji and spaces are
  not letters and do not vote.
- **"ko"** when Hangul makes up at least :data:`HANGUL_SHARE` (30%) of the letters. Korean
  feedback mixes in Latin words ("앱 UI가 너무 느려요", "AS 센터"), so a minority of Hangul
  already marks a Korean text; an English text with one Korean brand name in it stays English.
- **"en"** when the text has letters, is not Korean, and Latin letters make up at least
  :data:`LATIN_SHARE` (50%) of them.
- **"other"** otherwise: no letters at all (empty, blank, only digits, punctuation or emoji), or
  mostly another script (Japanese, Chinese, Cyrillic, Thai...).

Limits: any Latin-script language counts as "en" (French, German, Vietnamese, romanised
Korean); the rule sees scripts, not languages. That is the right trade for this product — the
sentiment heads are English and Korean, and the multilingual encoder under them still places a
French or Spanish text sensibly — but it is not a general language identifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

__all__ = ["HANGUL_SHARE", "LANGUAGES", "LATIN_SHARE", "detect_language"]

#: The three answers, in the order they are documented.
LANGUAGES: Final = ("ko", "en", "other")
#: Minimum share of Hangul among a text's letters for it to be Korean.
HANGUL_SHARE: Final = 0.3
#: Minimum share of Latin letters among a text's letters for a non-Korean text to be English.
LATIN_SHARE: Final = 0.5


def _is_hangul(ch: str) -> bool:
    code = ord(ch)
    return 0xAC00 <= code <= 0xD7A3 or 0x3131 <= code <= 0x318E


def _is_latin(ch: str) -> bool:
    code = ord(ch)
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z") or (0xC0 <= code <= 0x17F and ch.isalpha())


def _language(text: str | None) -> str:
    if not isinstance(text, str):
        return "other"
    hangul = latin = letters = 0
    for ch in text:
        if _is_hangul(ch):
            hangul += 1
            letters += 1
        elif _is_latin(ch):
            latin += 1
            letters += 1
        elif ch.isalpha():
            letters += 1
    if letters == 0:
        return "other"
    if hangul >= HANGUL_SHARE * letters:
        return "ko"
    if latin >= LATIN_SHARE * letters:
        return "en"
    return "other"


def detect_language(texts: Sequence[str | None]) -> np.ndarray:
    """The language of each text by its script: "ko", "en" or "other".

    Args:
        texts: feedback texts; ``None`` and non-text values are allowed.

    Returns:
        An object array aligned with ``texts``, each entry "ko" (Hangul is at least 30% of the
        text's letters), "en" (otherwise, when Latin letters are at least 50% of them) or
        "other" (no letters — empty, blank, ``None``, digits or emoji only — or mostly another
        script). See the module docstring for the rule and its limits.

    Example:
        >>> detect_language(["배송이 빨라요", "Fast delivery", "앱 UI가 느려요", "", None, "配送"])
        array(['ko', 'en', 'ko', 'other', 'other', 'other'], dtype=object)
    """
    return np.array([_language(t) for t in texts], dtype=object)
