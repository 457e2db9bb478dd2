"""How far a scorer (a reward model) agrees with a reference that orders responses (a verifier's
right and wrong, people's rankings): pure counting, so the bench's figure and the admin page's
mean the same thing.

Two figures. Pairwise: of the pairs the reference orders, the share the scorer orders the same
way (a tie in score agrees with neither side, so it counts against). Best against worst: of the
groups (a prompt's responses) holding both a preferred and a rejected response, the share where
the scorer's best is preferred and its worst rejected - the pair the reward strategy would make.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Agreement:
    compared: int  # pairs (or groups) compared
    agree: int
    ties: int = 0  # pairs scored equal: neither agreeing nor reversed

    @property
    def disagree(self) -> int:
        return self.compared - self.agree - self.ties

    @property
    def rate(self) -> float | None:
        """The share that agrees; None when nothing was compared."""
        return self.agree / self.compared if self.compared else None


def pairwise(ordered: Iterable[tuple[float, float]]) -> Agreement:
    """``ordered``: per pair, (the preferred response's score, the other's)."""
    compared = agree = ties = 0
    for preferred, other in ordered:
        compared += 1
        agree += preferred > other
        ties += preferred == other
    return Agreement(compared, agree, ties)


def best_vs_worst(groups: Iterable[Sequence[tuple[bool, float]]]) -> Agreement:
    """``groups``: per prompt, (preferred?, score) of each response in a fixed order; the
    first of equal scores is the best (or worst), as the reward strategy picks them. Groups
    that are all preferred or all rejected say nothing and are left out."""
    compared = agree = 0
    for group in groups:
        if len({preferred for preferred, _ in group}) < 2:
            continue
        compared += 1
        best = max(group, key=lambda r: r[1])
        worst = min(group, key=lambda r: r[1])
        agree += best[0] and not worst[0]
    return Agreement(compared, agree)
