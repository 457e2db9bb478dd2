"""From people's rankings to data: preference pairs (ties dropped), a consensus best response,
and how much annotators agree (Krippendorff's alpha, ordinal).

A ranking's tiers (``Tiers``) list response ids, best first; responses in one tier are tied.
A ranking marked "all bad" gives no best response; its tiers still order the responses.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import combinations

from pydantic import BaseModel

Tiers = list[list[int]]


class Vote(BaseModel):
    tiers: Tiers
    all_bad: bool = False


class Pair(BaseModel):
    chosen: int
    rejected: int
    wins: int  # rankings preferring chosen
    losses: int  # rankings preferring rejected
    votes: int  # rankings in all


def tier_of(tiers: Tiers) -> dict[int, int]:
    """Each response's tier index (0 the best)."""
    return {r: i for i, tier in enumerate(tiers) for r in tier}


def pairs(votes: Sequence[Vote]) -> list[Pair]:
    """Every pair of responses that more rankings order one way than the other."""
    better: Counter[tuple[int, int]] = Counter()
    ids: set[int] = set()
    for v in votes:
        tier = tier_of(v.tiers)
        ids |= tier.keys()
        for a, b in combinations(sorted(tier), 2):
            if tier[a] != tier[b]:
                better[(a, b) if tier[a] < tier[b] else (b, a)] += 1
    out = []
    for a, b in combinations(sorted(ids), 2):
        ab, ba = better[(a, b)], better[(b, a)]
        if ab != ba:
            win, lose = (a, b) if ab > ba else (b, a)
            out.append(Pair(chosen=win, rejected=lose, wins=max(ab, ba), losses=min(ab, ba),
                            votes=len(votes)))
    return sorted(out, key=lambda p: (-(p.wins - p.losses), p.chosen, p.rejected))


def best(votes: Sequence[Vote]) -> int | None:
    """The response with the best mean tier, if it is alone there and most rankings do not
    call every response bad."""
    if not votes or sum(v.all_bad for v in votes) * 2 >= len(votes):
        return None
    ranks: dict[int, list[int]] = {}
    for v in votes:
        for r, t in tier_of(v.tiers).items():
            ranks.setdefault(r, []).append(t)
    mean = {r: sum(t) / len(t) for r, t in ranks.items()}
    top = min(mean.values())
    leaders = [r for r, m in mean.items() if m == top]
    return leaders[0] if len(leaders) == 1 else None


def agreement(tasks: Sequence[Sequence[tuple[int, Tiers]]]) -> float | None:
    """Krippendorff's alpha (ordinal) over every (task, response) unit: each annotator's value
    is the response's tier. ``tasks``: per task, (annotator id, tiers) pairs. None when
    there is too little overlap to say."""
    import krippendorff
    import numpy as np

    annotators = sorted({a for t in tasks for a, _ in t})
    columns: list[list[float]] = []
    for judged in tasks:
        if len(judged) < 2:
            continue
        by = {a: tier_of(r) for a, r in judged}
        for response in sorted(set().union(*(t.keys() for t in by.values()))):
            columns.append([float(by[a][response]) if a in by and response in by[a]
                            else math.nan for a in annotators])
    if len(columns) < 2:
        return None
    data = np.array(columns, dtype=float).T
    if len({v for v in data.flatten() if not math.isnan(v)}) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"))
