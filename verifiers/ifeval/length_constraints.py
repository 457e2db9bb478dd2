"""length_constraints: number_sentences, number_paragraphs (split by ***), number_words,
nth_paragraph_first_word (paragraphs split by blank lines)."""

from __future__ import annotations

import re

from verifiers.ifeval.keywords import WORDS
from verifiers.ifeval.registry import Kwargs, checked, compare, need_int, register, register_count
from verifiers.ifeval.text import count_sentences, count_words


@register("length_constraints:number_sentences", ("num_sentences", "relation"),
          normalize=checked("num_sentences", relation="relation"),
          describe=lambda num_sentences, relation:
          f"Your response should contain {relation} {num_sentences} sentences.",
          sample=lambda rng, prompt: (lambda rel: {
              "relation": rel,
              "num_sentences": rng.randint(3, 8) if rel == "less than" else rng.randint(2, 6)})(
              rng.choice(("less than", "at least"))))
def number_sentences(response: str, num_sentences: int, relation: str) -> bool:
    return compare(count_sentences(response), relation, num_sentences)


@register_count("length_constraints:number_paragraphs", "num_paragraphs",
                "There should be {num_paragraphs} paragraphs. Paragraphs are separated with "
                "the markdown divider: ***", 2, 4)
def number_paragraphs(response: str, num_paragraphs: int) -> bool:
    parts = re.split(r"\s?\*\*\*\s?", response)
    count = len(parts)
    for i, part in enumerate(parts):
        if not part.strip():
            if i in (0, len(parts) - 1):
                count -= 1
            else:
                return False
    return count == num_paragraphs


@register("length_constraints:number_words", ("num_words", "relation"),
          normalize=checked("num_words", relation="relation"),
          describe=lambda num_words, relation: f"Answer with {relation} {num_words} words.",
          sample=lambda rng, prompt: (lambda rel: {
              "relation": rel,
              "num_words": rng.choice((150, 200, 300)) if rel == "less than"
              else rng.choice((50, 100, 150))})(rng.choice(("less than", "at least"))))
def number_words(response: str, num_words: int, relation: str) -> bool:
    return compare(count_words(response), relation, num_words)


def _first_word_norm(kw: Kwargs) -> Kwargs:
    need_int(kw, "num_paragraphs", "nth_paragraph")
    if not 0 < kw["nth_paragraph"] <= kw["num_paragraphs"]:
        raise ValueError("nth_paragraph must be between 1 and num_paragraphs")
    return {**kw, "first_word": str(kw["first_word"]).lower()}


def _first_word_sample(rng, prompt: str) -> Kwargs:
    n = rng.randint(2, 4)
    return {"num_paragraphs": n, "nth_paragraph": rng.randint(1, n),
            "first_word": rng.choice(WORDS)}


@register("length_constraints:nth_paragraph_first_word",
          ("num_paragraphs", "nth_paragraph", "first_word"), normalize=_first_word_norm,
          describe=lambda num_paragraphs, nth_paragraph, first_word:
          f"There should be {num_paragraphs} paragraphs. Paragraphs and only paragraphs are "
          "separated with each other by two new lines as if it was '\\n\\n' in python. "
          f"Paragraph {nth_paragraph} must start with word {first_word}.",
          sample=_first_word_sample)
def nth_paragraph_first_word(response: str, num_paragraphs: int, nth_paragraph: int,
                             first_word: str) -> bool:
    paragraphs = re.split(r"\n\n", response)
    count = sum(1 for p in paragraphs if p.strip())
    if nth_paragraph > count:
        return False
    paragraph = paragraphs[nth_paragraph - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    first = ""
    for ch in word:
        if ch in {".", ",", "?", "!", "'", '"'}:
            break
        first += ch.lower()
    return count == num_paragraphs and first == first_word
