"""Rules that drop a failed evolution (after WizardLM's Evol-Instruct elimination step).

An evolution fails when it is too short, when the model apologises or refuses instead of
rewriting, when it copies the rewriting prompt's own words (its markers and headings), or when
it gains no information over its parent: the same text, or no tag the parent lacked.
"""

from __future__ import annotations

import re
from collections.abc import Set

REFUSAL = re.compile(
    r"\b(sorry|apologi[sz]e|i can ?not|i can't|i am unable|i'm unable|i am not able|"
    r"as an ai|language model|i won't|i will not)\b", re.IGNORECASE)
# Words of the rewriting templates (factory/templates/evolve) that never belong in an instruction.
PROMPT_WORDS = re.compile(
    r"#\s*(given|rewritten|created|new) (prompt|instruction)\s*#|\b(given|rewritten) prompt\b|"
    r"\brewrit(e|ten) (the|this) (prompt|instruction)\b", re.IGNORECASE)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def eliminated_by_text(parent: str, evolved: str, min_words: int) -> str | None:
    """The rule an evolution fails before its tags are known, or None."""
    words = re.findall(r"\w+", evolved)
    if len(words) < min_words:
        return "too_short"
    if REFUSAL.search(evolved):
        return "refusal"
    if PROMPT_WORDS.search(evolved):
        return "copies_prompt"
    if _norm(evolved) == _norm(parent):
        return "unchanged"
    return None


def eliminated_by_tags(parent_tags: Set[str], evolved_tags: Set[str]) -> str | None:
    """No information gained: the evolution adds no tag its parent lacked."""
    return None if evolved_tags - parent_tags else "no_new_tags"
