"""Judging the judges: how far each annotator agrees with the others, how long a judgment
takes them, and whether the position a response is shown in sways them. Pure functions over
rankings, so the rules are tested without a store (``stats`` feeds them from it).

Positions are shuffled per annotator, so someone who always presses A agrees with the
others about half the time but picks the response shown first every time (position bias),
and quickly; someone who answers against the others agrees almost never.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from factory.annotation.consensus import Tiers, Vote, pairs, tier_of


@dataclass(frozen=True)
class Agreement:
    """One annotator against the consensus of the others, over the tasks they share: each
    response pair the others' rankings order one way more often than the other is a
    comparison, which the annotator ordered the same way (agree), the other way (oppose), or
    tied."""

    tasks: int = 0
    agree: int = 0
    oppose: int = 0
    tied: int = 0

    @property
    def compared(self) -> int:
        return self.agree + self.oppose + self.tied

    @property
    def rate(self) -> float | None:
        return self.agree / self.compared if self.compared else None


def agreement_with_others(tasks: Iterable[Sequence[tuple[int, Tiers]]]) -> dict[int, Agreement]:
    """Per annotator, agreement with the others' consensus (consensus.pairs of everyone
    else's rankings of the task). ``tasks``: per task, (annotator id, tiers) of its
    rankings, skips left out. A task ranked by one person compares nothing."""
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for judged in tasks:
        if len(judged) < 2:
            continue
        for annotator, tiers in judged:
            others = [Vote(tiers=t) for a, t in judged if a != annotator]
            mine = tier_of(tiers)
            counts[annotator]["tasks"] += 1
            for p in pairs(others):
                if p.chosen in mine and p.rejected in mine:
                    diff = mine[p.rejected] - mine[p.chosen]
                    counts[annotator]["agree" if diff > 0 else "oppose" if diff < 0
                                      else "tied"] += 1
    return {a: Agreement(**c) for a, c in counts.items()}


@dataclass(frozen=True)
class Position:
    """Rankings in which the response shown first beat the one shown second, the reverse,
    or the two were tied; for a pair, how often A wins over B."""

    first: int = 0
    second: int = 0
    tied: int = 0

    @property
    def decided(self) -> int:
        return self.first + self.second

    @property
    def first_share(self) -> float | None:
        return self.first / self.decided if self.decided else None

    @property
    def p_value(self) -> float | None:
        """Two-sided exact binomial test of "position does not matter" (first and second
        equally likely to win): small means the lean is unlikely to be chance."""
        n = self.decided
        if not n:
            return None
        top = max(self.first, self.second)
        log_half = n * math.log(0.5)
        tail = sum(math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                            + log_half) for k in range(top, n + 1))
        return min(1.0, 2 * tail)


def position_bias(rankings: Iterable[tuple[Tiers, Sequence[int]]]) -> Position:
    """How the response shown first fared against the one shown second. ``rankings``:
    (tiers, shown order) of each ranking, skips left out."""
    first = second = tied = 0
    for tiers, shown in rankings:
        tier = tier_of(tiers)
        if len(shown) < 2 or shown[0] not in tier or shown[1] not in tier:
            continue
        a, b = tier[shown[0]], tier[shown[1]]
        first, second, tied = first + (a < b), second + (a > b), tied + (a == b)
    return Position(first, second, tied)


@dataclass(frozen=True)
class Timing:
    """Seconds from a task appearing to its ranking being stored: median and quartiles."""

    n: int
    median: float
    p25: float
    p75: float


def timing(seconds: Iterable[float]) -> Timing | None:
    """The spread of judgment times (None without any)."""
    data = sorted(seconds)
    if not data:
        return None
    if len(data) == 1:
        return Timing(1, data[0], data[0], data[0])
    p25, median, p75 = statistics.quantiles(data, n=4, method="inclusive")
    return Timing(len(data), median, p25, p75)

