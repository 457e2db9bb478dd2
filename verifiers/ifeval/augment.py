"""Constraint augmentation: 1-3 instruction types that do not conflict (IFEval's rules), with
kwargs drawn for them that a response can follow together (clashes.py), worded as IFEval
words them, to append to any prompt."""

from __future__ import annotations

import random
from collections.abc import Collection
from typing import Any

from verifiers.ifeval.clashes import clash
from verifiers.ifeval.registry import REGISTRY, conflicts, get

REDRAWS = 20  # kwargs drawn again for a type while they clash with those before it
ATTEMPTS = 5  # kwargs drawn again for all before the clashing pair is set apart


def choose(pool: list[str], want: int, apart: Collection[frozenset[str]] = ()) -> list[str]:
    """The first ``want`` types in ``pool`` order (depth first) of which no two conflict nor
    form a pair in ``apart``; the most that go together when ``want`` cannot be had. Greedy
    picking would stop short when an early type (detectable_format:constrained_response)
    conflicts with every other; this skips it unless it fits."""
    table = conflicts()
    best: list[str] = []

    def fits(iid: str, ids: list[str]) -> bool:
        return all(iid not in table[o] and frozenset((iid, o)) not in apart for o in ids)

    def extend(ids: list[str], start: int) -> bool:
        nonlocal best
        if len(ids) > len(best):
            best = list(ids)
        if len(ids) == want:
            return True
        for k in range(start, len(pool)):
            if len(ids) + len(pool) - k <= len(best):
                return False  # too few left to beat the most found
            if fits(pool[k], ids) and extend([*ids, pool[k]], k + 1):
                return True
        return False

    extend([], 0)
    return best


def _kwargs(rng: random.Random, prompt: str, ids: list[str]
            ) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
    """Kwargs for each type in order, a type's drawn again (up to REDRAWS times) while they
    clash with those before; the clashing pair when that does not help."""
    kwargs: list[dict[str, Any]] = []
    for i, iid in enumerate(ids):
        for _ in range(REDRAWS):
            kw = REGISTRY[iid].sample(rng, prompt)
            found = clash(ids[:i + 1], [*kwargs, kw])
            if found is None:
                break
        else:
            return kwargs, found
        kwargs.append(kw)
    return kwargs, None


def draw(rng: random.Random, prompt: str, low: int = 1, high: int = 3,
         types: list[str] | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """``low``..``high`` types from ``types`` (every type when None), none conflicting with
    another, in a random order, and kwargs for each (IFEval's instruction_id_list and kwargs)
    that a response can follow together. All from ``rng``, so the same seed draws the same.
    Fewer than asked only when ``types`` has fewer that go together: a pair whose kwargs keep
    clashing on this prompt (a comma in the prompt to repeat, with no commas; an end phrase
    with letters a letter budget cannot afford, ATTEMPTS times over) is set apart and the
    types chosen again."""
    pool = sorted(types if types is not None else REGISTRY)
    for iid in pool:
        get(iid)  # unknown ids are an error, not silently skipped
    rng.shuffle(pool)
    want = rng.randint(low, high)
    apart: set[frozenset[str]] = set()
    while True:
        ids = choose(pool, want, apart)
        for _ in range(ATTEMPTS):
            kwargs, found = _kwargs(rng, prompt, ids)
            if found is None:
                return ids, kwargs
        apart.add(frozenset(found))


def wording(instruction_id_list: list[str], kwargs: list[dict[str, Any]]) -> list[str]:
    """Each constraint as a sentence (or a few) for the prompt."""
    return [get(iid).describe(**get(iid).prepare(kw))
            for iid, kw in zip(instruction_id_list, kwargs, strict=True)]
