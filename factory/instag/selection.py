"""Which instructions are worth human time: InsTag's complexity-first diverse selection.

Complexity is the number of an instruction's normalised tags; diversity is coverage of tags the
selection does not hold yet. Instructions are visited from most to fewest tags and kept when they
bring a new tag; when every remaining instruction's tags are covered, the covered set starts
again (InsTag's pass), so a selection larger than the tag space still prefers complex ones.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

from pydantic import BaseModel


class TaggedInstruction(BaseModel):
    """An instruction in the pool to select from: its InstructionTags id and normalised tags."""

    id: int
    tags: frozenset[str]

    @property
    def complexity(self) -> int:
        return len(self.tags)


class Coverage(BaseModel):
    selected: int
    tags_covered: int
    tags_total: int

    @property
    def share(self) -> float:
        return self.tags_covered / self.tags_total if self.tags_total else 0.0


class Baseline(BaseModel):
    draws: int
    mean: float
    low: float
    high: float


def complexity_first(pool: Sequence[TaggedInstruction], n: int) -> list[TaggedInstruction]:
    """Up to ``n`` instructions, complex first, each adding a tag the selection lacks."""
    remaining = sorted(pool, key=lambda c: (-c.complexity, c.id))
    chosen: list[TaggedInstruction] = []
    covered: set[str] = set()
    while remaining and len(chosen) < n:
        kept: list[TaggedInstruction] = []
        for c in remaining:
            if len(chosen) < n and not c.tags <= covered:
                chosen.append(c)
                covered |= c.tags
            else:
                kept.append(c)
        if len(kept) == len(remaining):  # nothing new anywhere: start a new pass
            if not covered:  # only untagged instructions are left
                chosen.extend(kept[:n - len(chosen)])
                break
            covered = set()
        remaining = kept
    return chosen


def coverage(selected: Sequence[TaggedInstruction], all_tags: set[str]) -> Coverage:
    covered = set().union(*(c.tags for c in selected)) & all_tags if selected else set()
    return Coverage(selected=len(selected), tags_covered=len(covered), tags_total=len(all_tags))


def random_baseline(pool: Sequence[TaggedInstruction], n: int, all_tags: set[str], draws: int = 20,
                    seed: int = 0) -> Baseline:
    """Tag coverage of ``draws`` uniform samples of the same size, for comparison."""
    rng = random.Random(seed)
    shares = [coverage(rng.sample(list(pool), min(n, len(pool))), all_tags).share
              for _ in range(draws)]
    return Baseline(draws=draws, mean=statistics.fmean(shares), low=min(shares),
                    high=max(shares))
