"""The constraint registry: each IFEval instruction type as a :class:`Constraint` - its id, its
kwargs (IFEval's names), a check, a wording for a prompt and a way to draw kwargs - and IFEval's
conflict rules (which types may not share a prompt)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

RELATIONS = ("less than", "at least")

Kwargs = dict[str, Any]


@dataclass(frozen=True)
class Constraint:
    id: str
    keys: tuple[str, ...]
    check: Callable[..., bool]  # check(response, **kwargs)
    describe: Callable[..., str]  # describe(**kwargs): the instruction, as a prompt says it
    sample: Callable[[random.Random, str], Kwargs]  # sample(rng, prompt): kwargs to ask for
    normalize: Callable[[Kwargs], Kwargs] | None = None  # IFEval's clean-up of its kwargs

    def prepare(self, kwargs: dict[str, Any] | None) -> Kwargs:
        """The kwargs a check takes: None values dropped (unset), keys of other types
        refused, every key this type needs present; ValueError says what is wrong."""
        given = {k: v for k, v in (kwargs or {}).items() if v is not None}
        unknown = sorted(set(given) - set(self.keys))
        if unknown:
            raise ValueError(f"{self.id}: unknown kwargs {unknown}")
        missing = [k for k in self.keys if k not in given]
        if missing:
            raise ValueError(f"{self.id}: kwargs {missing} missing")
        return self.normalize(given) if self.normalize else given


REGISTRY: dict[str, Constraint] = {}


def register(id: str, keys: tuple[str, ...] = (), *, describe: Callable[..., str],
             sample: Callable[[random.Random, str], Kwargs] | None = None,
             normalize: Callable[[Kwargs], Kwargs] | None = None
             ) -> Callable[[Callable[..., bool]], Callable[..., bool]]:
    def add(check: Callable[..., bool]) -> Callable[..., bool]:
        if id in REGISTRY:
            raise ValueError(f"constraint {id} registered twice")
        REGISTRY[id] = Constraint(id, keys, check, describe,
                                  sample or (lambda rng, prompt: {}), normalize)
        return check
    return add


def register_count(id: str, key: str, wording: str, low: int, high: int
                   ) -> Callable[[Callable[..., bool]], Callable[..., bool]]:
    """A type with one integer kwarg, ``key``: worded by ``wording`` (a format string), drawn
    from ``low``..``high``."""
    return register(id, (key,), normalize=checked(key),
                    describe=lambda **kw: wording.format(**kw),
                    sample=lambda rng, prompt: {key: rng.randint(low, high)})


def get(id: str) -> Constraint:
    try:
        return REGISTRY[id]
    except KeyError:
        raise ValueError(f"unknown instruction id {id!r}") from None


def need_int(kwargs: Kwargs, *keys: str) -> None:
    for k in keys:
        if isinstance(kwargs[k], bool) or not isinstance(kwargs[k], int):
            raise ValueError(f"{k} must be an integer, not {kwargs[k]!r}")


def need_relation(kwargs: Kwargs, key: str = "relation") -> None:
    if kwargs[key] not in RELATIONS:
        raise ValueError(f"{key} must be one of {list(RELATIONS)}, not {kwargs[key]!r}")


def checked(*int_keys: str, relation: str | None = None) -> Callable[[Kwargs], Kwargs]:
    """A normalizer that only checks: ``int_keys`` are integers, ``relation`` a relation."""
    def norm(kw: Kwargs) -> Kwargs:
        need_int(kw, *int_keys)
        if relation:
            need_relation(kw, relation)
        return kw
    return norm


def compare(count: int, relation: str, threshold: int) -> bool:
    return count < threshold if relation == "less than" else count >= threshold


# IFEval's conflict rules (instructions_registry.INSTRUCTION_CONFLICTS), made symmetric and
# reflexive as its conflict_make does. "*" is every type; "*-" every type but those listed.
# One more than IFEval's: english_lowercase with multiple_sections, whose check looks for the
# marker ("Section", "SECTION") case-sensitively. Conflicts of kwargs: clashes.py.
_ALL = "*"
_CONFLICTS: dict[str, set[str] | tuple[str, set[str]]] = {
    "keywords:existence": {"keywords:existence"},
    "keywords:frequency": {"keywords:frequency"},
    "keywords:forbidden_words": {"keywords:forbidden_words"},
    "keywords:letter_frequency": {"keywords:letter_frequency"},
    "language:response_language": {
        "language:response_language", "detectable_format:multiple_sections",
        "keywords:existence", "keywords:frequency", "keywords:forbidden_words",
        "startend:end_checker", "change_case:english_capital", "change_case:english_lowercase"},
    "length_constraints:number_sentences": {"length_constraints:number_sentences"},
    "length_constraints:number_paragraphs": {
        "length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word",
        "length_constraints:number_sentences"},
    "length_constraints:number_words": {"length_constraints:number_words"},
    "length_constraints:nth_paragraph_first_word": {
        "length_constraints:nth_paragraph_first_word", "length_constraints:number_paragraphs"},
    "detectable_content:number_placeholders": {"detectable_content:number_placeholders"},
    "detectable_content:postscript": {"detectable_content:postscript"},
    "detectable_format:number_bullet_lists": {"detectable_format:number_bullet_lists"},
    "detectable_format:constrained_response": (_ALL, set()),
    "detectable_format:number_highlighted_sections": {
        "detectable_format:number_highlighted_sections"},
    "detectable_format:multiple_sections": {
        "detectable_format:multiple_sections", "language:response_language",
        "detectable_format:number_highlighted_sections"},
    "detectable_format:json_format": (_ALL, {"keywords:forbidden_words", "keywords:existence"}),
    "detectable_format:title": {"detectable_format:title"},
    "combination:two_responses": (_ALL, {
        "keywords:forbidden_words", "keywords:existence", "language:response_language",
        "detectable_format:title", "punctuation:no_comma"}),
    "combination:repeat_prompt": (_ALL, {
        "keywords:existence", "detectable_format:title", "punctuation:no_comma"}),
    "startend:end_checker": {"startend:end_checker"},
    "change_case:capital_word_frequency": {
        "change_case:capital_word_frequency", "change_case:english_lowercase",
        "change_case:english_capital"},
    "change_case:english_capital": {"change_case:english_capital"},
    "change_case:english_lowercase": {
        "change_case:english_lowercase", "change_case:english_capital",
        "detectable_format:multiple_sections"},
    "punctuation:no_comma": {"punctuation:no_comma"},
    "startend:quotation": {"startend:quotation", "detectable_format:title"},
}


@cache
def conflicts() -> dict[str, frozenset[str]]:
    """Each type's conflicting types: symmetric, and every type conflicts with itself."""
    ids = list(_CONFLICTS)
    table: dict[str, set[str]] = {}
    for key, rule in _CONFLICTS.items():
        table[key] = set(ids) - rule[1] if isinstance(rule, tuple) else set(rule)
    for key in ids:
        for other in list(table[key]):
            table[other].add(key)
        table[key].add(key)
    return {k: frozenset(v) for k, v in table.items()}


def compatible(ids: list[str]) -> bool:
    """Whether no two of ``ids`` conflict (nor is one given twice)."""
    table = conflicts()
    return all(b not in table[a] for i, a in enumerate(ids) for b in ids[i + 1:])
