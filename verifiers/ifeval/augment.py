"""Constraint augmentation: 1-3 instruction types that do not conflict (IFEval's rules), with
kwargs drawn for them, worded as IFEval words them, to append to any prompt."""

from __future__ import annotations

import random
from typing import Any

from verifiers.ifeval.registry import REGISTRY, conflicts, get


def draw(rng: random.Random, prompt: str, low: int = 1, high: int = 3,
         types: list[str] | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """``low``..``high`` types from ``types`` (every type when None), none conflicting with
    another, in a random order, and kwargs for each (IFEval's instruction_id_list and kwargs).
    Fewer than asked when ``types`` has fewer that go together."""
    pool = sorted(types if types is not None else REGISTRY)
    for iid in pool:
        get(iid)  # unknown ids are an error, not silently skipped
    rng.shuffle(pool)
    want = rng.randint(low, high)
    table = conflicts()
    ids: list[str] = []
    for iid in pool:
        if len(ids) == want:
            break
        if all(iid not in table[other] for other in ids):
            ids.append(iid)
    return ids, [REGISTRY[iid].sample(rng, prompt) for iid in ids]


def wording(instruction_id_list: list[str], kwargs: list[dict[str, Any]]) -> list[str]:
    """Each constraint as a sentence (or a few) for the prompt."""
    return [get(iid).describe(**get(iid).prepare(kw))
            for iid, kw in zip(instruction_id_list, kwargs, strict=True)]
