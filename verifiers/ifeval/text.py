"""Text measures the checks share: words, sentences (a rule-based splitter instead of NLTK's
punkt, so nothing is downloaded at run time), word tokens, language.

Words are runs of word characters (IFEval: nltk's RegexpTokenizer(r"\\w+"), the same thing).
Sentences end at ".", "?" or "!" (and runs of them, closing quotes and brackets included) that
whitespace follows, unless the word before a "." is a known abbreviation, an initial or a
number that starts a list item, and an ellipsis that a lower-case word follows - the
cases punkt's English model learned most of.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

_WORD = re.compile(r"\w+")
_END = re.compile(r"[.?!]+[\"'”’)\]]*(?=\s|$)")
_ABBREVIATION_TEXT = """
mr mrs ms dr prof sr jr st mt vs etc e.g i.e eg ie inc ltd co corp no nos fig figs approx
dept est vol vols ed eds u.s u.k a.m p.m jan feb mar apr jun jul aug sep sept oct nov dec
mon tue wed thu fri sat sun gen col lt sgt capt rev hon ave blvd rd cf al ca ch op pp
"""
_ABBREVIATIONS = frozenset(_ABBREVIATION_TEXT.split())


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def split_sentences(text: str) -> list[str]:
    sentences = []
    start = 0
    for m in _END.finditer(text):
        if m.group().startswith(".") and m.group().rstrip("\"'”’)]") == ".":
            before = text[start:m.start()].split()
            word = before[-1].lower().lstrip("\"'“‘([") if before else ""
            if (word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())
                    or re.fullmatch(r"[a-z](\.[a-z])+", word)
                    or (word.isdigit() and len(before) == 1)):
                continue
        if m.group().startswith("..") and text[m.end():].lstrip()[:1].islower():
            continue  # an ellipsis before a lower-case word goes on with the sentence
        sentence = text[start:m.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = m.end()
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def count_sentences(text: str) -> int:
    return len(split_sentences(text))


# word_tokenize-like: contractions split off ("DON'T" -> "DO", "N'T"), hyphenated words kept
# whole, punctuation on its own
_TOKEN = re.compile(r"\w+(?:-\w+)*(?=n['’]t\b)|n['’]t\b|['’]\w+|\w+(?:-\w+)*|[^\w\s]",
                    re.IGNORECASE)


def word_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@cache
def _detector_factory() -> None:
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0  # langdetect samples at random; fixed, a text gets one answer


@lru_cache(maxsize=4096)
def language(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language (langdetect, as IFEval), None when it cannot
    tell (no letters): IFEval counts that as followed."""
    from langdetect import LangDetectException, detect

    _detector_factory()
    try:
        return detect(text)
    except LangDetectException:
        return None
