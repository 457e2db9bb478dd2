"""keywords: existence, frequency, forbidden_words, letter_frequency.

Keywords are regular expressions to IFEval (it searches them unescaped); so here, except that
one that does not compile is taken literally instead of failing."""

from __future__ import annotations

import re
import string
from collections import Counter

from verifiers.ifeval.registry import Kwargs, checked, compare, need_int, need_relation, register

# words a sampled keyword constraint asks for (common, topic-neutral)
WORDS = ("balance", "bridge", "candle", "compass", "courage", "harvest", "journey", "lantern",
         "market", "method", "morning", "network", "ocean", "pattern", "planet", "puzzle",
         "river", "season", "signal", "silver", "story", "summit", "thread", "window")


def pattern(word: str, flags: int = re.IGNORECASE, wrap: str = "{}") -> re.Pattern[str]:
    try:
        return re.compile(wrap.format(word), flags)
    except re.error:
        return re.compile(wrap.format(re.escape(word)), flags)


def _existence_norm(kw: Kwargs) -> Kwargs:
    if not isinstance(kw["keywords"], list) or not kw["keywords"]:
        raise ValueError("keywords must be a non-empty list of strings")
    return {"keywords": sorted(str(k) for k in kw["keywords"])}


@register("keywords:existence", ("keywords",), normalize=_existence_norm,
          describe=lambda keywords: f"Include the keywords {', '.join(keywords)} in your "
                                    "response.",
          sample=lambda rng, prompt: {"keywords": sorted(rng.sample(WORDS, 2))})
def existence(response: str, keywords: list[str]) -> bool:
    return all(pattern(k).search(response) for k in keywords)


def _frequency_norm(kw: Kwargs) -> Kwargs:
    checked("frequency", relation="relation")(kw)
    return {**kw, "keyword": str(kw["keyword"]).strip()}


@register("keywords:frequency", ("keyword", "frequency", "relation"), normalize=_frequency_norm,
          describe=lambda keyword, frequency, relation:
          f"In your response, the word {keyword} should appear {relation} {frequency} times.",
          sample=lambda rng, prompt: {"keyword": rng.choice(WORDS),
                                      "frequency": rng.randint(1, 3),
                                      "relation": "at least"})
def frequency(response: str, keyword: str, frequency: int, relation: str) -> bool:
    return compare(len(pattern(keyword).findall(response)), relation, frequency)


def _forbidden_norm(kw: Kwargs) -> Kwargs:
    if not isinstance(kw["forbidden_words"], list) or not kw["forbidden_words"]:
        raise ValueError("forbidden_words must be a non-empty list of strings")
    return {"forbidden_words": sorted({str(w) for w in kw["forbidden_words"]})}


@register("keywords:forbidden_words", ("forbidden_words",), normalize=_forbidden_norm,
          describe=lambda forbidden_words: "Do not include the words "
                                           f"{', '.join(forbidden_words)} in your response.",
          sample=lambda rng, prompt: {"forbidden_words": sorted(rng.sample(WORDS, 2))})
def forbidden_words(response: str, forbidden_words: list[str]) -> bool:
    return not any(pattern(w, wrap=r"\b{}\b").search(response) for w in forbidden_words)


def _letter_norm(kw: Kwargs) -> Kwargs:
    need_int(kw, "let_frequency")
    need_relation(kw, "let_relation")
    letter = str(kw["letter"])
    if len(letter) != 1 or letter.isspace():
        raise ValueError(f"letter must be one non-whitespace character, not {letter!r}")
    return {**kw, "letter": letter.lower()}


@register("keywords:letter_frequency", ("letter", "let_frequency", "let_relation"),
          normalize=_letter_norm,
          describe=lambda letter, let_frequency, let_relation:
          f"In your response, the letter {letter} should appear {let_relation} "
          f"{let_frequency} times.",
          sample=lambda rng, prompt: {"letter": rng.choice(string.ascii_lowercase[:20]),
                                      "let_frequency": rng.randint(2, 10),
                                      "let_relation": rng.choice(("less than", "at least"))})
def letter_frequency(response: str, letter: str, let_frequency: int, let_relation: str) -> bool:
    return compare(Counter(response.lower())[letter], let_relation, let_frequency)
