"""What a tag is: the JSON the model must answer in, and one tag's canonical spelling.

Rule normalisation (InsTag's first aggregation step) is per tag and needs no corpus: lower-case,
separators to spaces, punctuation dropped, each word lemmatised as a noun ("calculations" ->
"calculation", "writing" stays "writing"), then whole-tag synonym rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache

from pydantic import BaseModel, Field

MAX_TAGS = 10

# Whole-tag synonyms every ontology applies; ontology settings add their own.
SYNONYMS: dict[str, str] = {
    "maths": "math",
    "mathematics": "math",
    "mathematical": "math",
    "arithmetics": "arithmetic",
    "coding": "programming",
    "code writing": "programming",
    "q a": "question answering",
    "qa": "question answering",
}

_SEPARATORS = re.compile(r"[_\-/|:;,.]+")
_DROP = re.compile(r"[^\w\s+#]")  # keeps c++ and c#


class Tag(BaseModel):
    tag: str = Field(min_length=1, max_length=40)
    explanation: str = Field(max_length=120)


class TagReply(BaseModel):
    """The model's answer; bounds keep a small model from padding to its token limit."""

    tags: list[Tag] = Field(min_length=1, max_length=MAX_TAGS)


@cache
def _lemma(word: str) -> str:
    from lemminflect import getAllLemmas

    # Dictionary lemmas only: out-of-vocabulary rules would turn "asynchronous" into
    # "asynchronou".
    found = getAllLemmas(word, upos="NOUN").get("NOUN") if word.isalpha() else None
    return found[0] if found else word


def clean_tag(tag: str, synonyms: Mapping[str, str] | None = None) -> str:
    """The canonical spelling of one tag ("" when nothing is left)."""
    text = unicodedata.normalize("NFKC", tag).lower()
    text = _DROP.sub("", _SEPARATORS.sub(" ", text))
    text = " ".join(_lemma(w) for w in text.split())
    rules = {**SYNONYMS, **(synonyms or {})}
    return rules.get(text, text)


def tag_names(tags: Iterable[object]) -> list[str]:
    """Tag strings from either plain strings or ``{"tag": ...}`` objects, in order."""
    out = []
    for t in tags:
        name = t.get("tag") if isinstance(t, dict) else t
        if not isinstance(name, str):
            raise ValueError(f"a tag must be a string or an object with 'tag', got {t!r}")
        out.append(name)
    return out


def clean_set(tags: Iterable[str], synonyms: Mapping[str, str] | None = None) -> set[str]:
    """Distinct canonical tags of one instruction."""
    return {c for c in (clean_tag(t, synonyms) for t in tags) if c}
