"""Synthetic arithmetic problems: the tiny demo model's training data and the bundled seeds.

Operand sizes are mixed (one to three digits) so that a small model gets easy problems right,
larger ones mostly wrong, and rejection sampling meets easy, mixed and too-hard problems.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

DIGIT_WEIGHTS = {1: 0.65, 2: 0.3, 3: 0.05}
HELD_OUT_MIX = {1: 0.4, 2: 0.45, 3: 0.15}


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


def _of_size(digits: int, seed: int) -> Iterator[Problem]:
    return (p for p in problems(seed) if p.digits == digits)


def held_out(count: int, seed: int = 20240607) -> list[Problem]:
    """Distinct problems for the bundled seeds and the accuracy check, mixed by size as
    HELD_OUT_MIX says, in an order whose every prefix keeps that mix (so the first 200 are
    also the first 200 of 400). All but one-digit ones are kept out of training: the 200
    one-digit facts are a table to learn (as a person learns theirs), not a test of
    generalisation, so the tiny model sees every one of them."""
    streams = {d: _of_size(d, seed + d) for d in HELD_OUT_MIX}
    taken = dict.fromkeys(HELD_OUT_MIX, 0)
    seen: set[Problem] = set()
    out: list[Problem] = []
    while len(out) < count:
        d = max(HELD_OUT_MIX, key=lambda k: HELD_OUT_MIX[k] * (len(out) + 1) - taken[k])
        p = next(q for q in streams[d] if q not in seen)
        seen.add(p)
        taken[d] += 1
        out.append(p)
    return out
