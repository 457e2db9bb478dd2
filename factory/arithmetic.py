"""Synthetic arithmetic problems: the tiny demo model's training data and the bundled seeds.

Operand sizes are mixed (one to three digits) so that a small model gets easy problems right,
larger ones mostly wrong, and rejection sampling meets easy, mixed and too-hard problems.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

DIGIT_WEIGHTS = {1: 0.6, 2: 0.3, 3: 0.1}


@dataclass(frozen=True)
class Problem:
    a: int
    op: str
    b: int

    @property
    def answer(self) -> int:
        return self.a + self.b if self.op == "+" else self.a - self.b

    @property
    def digits(self) -> int:
        """Size of the larger operand: 1 = the one-digit table, 3 = mostly beyond the tiny model."""
        return max(len(str(abs(self.a))), len(str(abs(self.b))))

    @property
    def question(self) -> str:
        return f"What is {self.a} {self.op} {self.b}?"

    @property
    def solution(self) -> str:
        """The worked answer the tiny model is trained to write."""
        n = self.answer
        return f"{self.a} {self.op} {self.b} = {n}.\nThe answer is \\boxed{{{n}}}."


def _operand(rng: random.Random) -> int:
    digits = rng.choices(list(DIGIT_WEIGHTS), weights=list(DIGIT_WEIGHTS.values()))[0]
    low = 0 if digits == 1 else 10 ** (digits - 1)
    return rng.randint(low, 10**digits - 1)


def problems(seed: int, exclude: frozenset[Problem] = frozenset()) -> Iterator[Problem]:
    """An endless deterministic stream of problems, skipping those in ``exclude``."""
    rng = random.Random(seed)
    while True:
        p = Problem(_operand(rng), rng.choice("+-"), _operand(rng))
        if p not in exclude:
            yield p


def held_out(count: int, seed: int = 20240607) -> list[Problem]:
    """Distinct problems for the bundled seeds and the accuracy check. All but one-digit ones are
    kept out of training: the 200 one-digit facts are a table to learn (as a person learns
    theirs), not a test of generalisation, so the tiny model sees every one of them."""
    seen: dict[Problem, None] = {}
    for p in problems(seed):
        seen.setdefault(p)
        if len(seen) == count:
            return list(seen)
    raise AssertionError("unreachable")
