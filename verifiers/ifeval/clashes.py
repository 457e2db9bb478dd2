"""Kwargs that cannot go together, beyond IFEval's type-level conflict rules (registry.py).

IFEval's table lets keywords:existence and keywords:forbidden_words share a prompt, but not
when the same word is required and forbidden; it lets change_case:english_capital meet
detectable_format:multiple_sections, but a response in capitals cannot contain the marker
"Section". Such a prompt can be followed by no response, so every pass/fail sample of it is
wasted. The rules here look at what a response following the constraints must contain - the
words, phrases and markers the kwargs ask for (``needs``) - and ask the checks themselves
whether the other constraints could still hold with that text in the response.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verifiers.ifeval.change_case import capital_word_frequency
from verifiers.ifeval.keywords import forbidden_words, letter_frequency
from verifiers.ifeval.punctuation import no_comma
from verifiers.ifeval.registry import Kwargs, get


@dataclass(frozen=True)
class Need:
    """Text a response must contain; ``exact`` when its check is case-sensitive."""
    text: str
    exact: bool = False


def _needs(iid: str, kw: Kwargs) -> list[Need]:
    if iid == "keywords:existence":
        return [Need(k) for k in kw["keywords"]]
    if iid == "keywords:frequency" and kw["relation"] == "at least":
        return [Need(kw["keyword"])] * kw["frequency"]
    if iid == "length_constraints:nth_paragraph_first_word":
        return [Need(kw["first_word"])]
    if iid == "startend:end_checker":
        return [Need(kw["end_phrase"])]
    if iid == "detectable_content:postscript":
        return [Need(kw["postscript_marker"])]
    if iid == "detectable_format:multiple_sections":
        return [Need(f"{kw['section_spliter']} {i}", exact=True)
                for i in range(1, kw["num_sections"] + 1)]
    if iid == "combination:repeat_prompt":
        return [Need(kw["prompt_to_repeat"])]
    return []


# Per type: whether its kwargs can still hold in a response that holds the ``needs``' texts.
# A case-insensitive need may be written in the case the response wants, an exact one not;
# counts add up every need (a word two types ask for counts twice: cautious, never lenient).
_Rule = Callable[[Kwargs, list[Need]], bool]


def _joined(needs: list[Need], exact_only: bool = False) -> str:
    return " ".join(n.text for n in needs if n.exact or not exact_only)


RULES: dict[str, _Rule] = {
    "keywords:forbidden_words": lambda kw, needs: all(
        forbidden_words(n.text, **kw) for n in needs),
    "punctuation:no_comma": lambda kw, needs: all(no_comma(n.text) for n in needs),
    "keywords:letter_frequency": lambda kw, needs: kw["let_relation"] == "at least" or
        letter_frequency(_joined(needs), **kw),
    "change_case:capital_word_frequency": lambda kw, needs: kw["capital_relation"] == "at least"
        or capital_word_frequency(_joined(needs, exact_only=True), **kw),
    "change_case:english_capital": lambda kw, needs: all(
        n.text == n.text.upper() for n in needs if n.exact),
    "change_case:english_lowercase": lambda kw, needs: all(
        n.text == n.text.lower() for n in needs if n.exact),
}


def clash(ids: Sequence[str], kwargs: Sequence[Kwargs]) -> tuple[str, str] | None:
    """Two of the constraints (by id) whose kwargs no response can follow together, or None.
    The rules are pairwise, except that letter and capital-word counts add up the texts of
    all the others (then the pair named is the counted type and the last one adding text)."""
    prepared = [(iid, get(iid).prepare(kw)) for iid, kw in zip(ids, kwargs, strict=True)]
    for i, (iid, kw) in enumerate(prepared):
        rule = RULES.get(iid)
        if rule is None:
            continue
        needs: list[Need] = []
        for j, (other, okw) in enumerate(prepared):
            if j == i:
                continue
            more = _needs(other, okw)
            needs += more
            if more and not rule(kw, needs):
                return iid, other
    return None
