"""Right against wrong answers to arithmetic problems: the tiny reward model's training and
held-out pairs (kept apart from factory.arithmetic, whose bytes are the tiny generator's recipe).
"""

from __future__ import annotations

import random

from factory.arithmetic import Problem, held_out


def worked(p: Problem, n: int) -> str:
    """The worked answer in the tiny model's words, arriving at ``n`` (right or not)."""
    return f"{p.a} {p.op} {p.b} = {n}.\nThe answer is \\boxed{{{n}}}."


def slip(p: Problem, rng: random.Random) -> int:
    """A plausible wrong answer: off by one or two, by ten or a hundred, the other operation,
    digits reversed, or a little off."""
    n = p.answer
    kind = rng.random()
    if kind < 0.35:
        wrong = n + rng.choice([-2, -1, 1, 2])
    elif kind < 0.6:
        wrong = n + rng.choice([-10, 10, -100, 100])
    elif kind < 0.75:
        wrong = p.a - p.b if p.op == "+" else p.a + p.b
    elif kind < 0.85 and abs(n) >= 10:
        wrong = int(str(abs(n))[::-1]) * (1 if n >= 0 else -1)
    else:
        wrong = n + rng.randint(-20, 20)
    return wrong if wrong != n else n + 1


def held_out_pairs(count: int, seed: int = 7) -> list[tuple[Problem, int]]:
    """The first ``count`` held-out problems, each with a wrong answer: the build measures the
    reward model's pairwise accuracy on these, and a test can measure a served copy's."""
    rng = random.Random(seed)
    return [(p, slip(p, rng)) for p in held_out(count)]
