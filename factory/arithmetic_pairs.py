"""Right against wrong answers to arithmetic problems: the tiny reward model's calibration and
held-out pairs (kept apart from factory.arithmetic, whose bytes are the tiny generator's recipe).

Two kinds of wrong answer: ``slip`` (off by one or two, by ten or a hundred, the other
operation, reversed digits) and ``near_miss``, the tiny generator's own kind of mistake - a
few units off, one digit changed, a carry dropped or added, two digits swapped - which its
sampled answers mostly are (bench/reward_agreement.py).
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


def near_miss(p: Problem, rng: random.Random) -> int:
    """A wrong answer close to the right one, as the tiny generator gets it wrong: a few units
    off (mostly the last digit), one digit changed, a carry dropped or added (ten or a hundred
    off), or two neighbouring digits swapped."""
    n = p.answer
    digits = list(str(abs(n)))
    kind = rng.random()
    if kind < 0.4:
        wrong = n + rng.choice([-1, 1]) * rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9])
    elif kind < 0.65:
        i = rng.randrange(len(digits)) if rng.random() < 0.5 else len(digits) - 1
        digits[i] = rng.choice([d for d in "0123456789" if d != digits[i]])
        wrong = int("".join(digits)) * (-1 if n < 0 else 1)
    elif kind < 0.85:
        wrong = n + rng.choice([-1, 1]) * (10 if abs(n) < 100 or rng.random() < 0.7 else 100)
    elif len(digits) >= 2:
        i = rng.randrange(len(digits) - 1)
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
        wrong = int("".join(digits)) * (-1 if n < 0 else 1)
    else:
        wrong = n + rng.choice([-1, 1])
    return wrong if wrong != n else n + rng.choice([-1, 1])


def held_out_pairs(count: int, seed: int = 7) -> list[tuple[Problem, int]]:
    """The first ``count`` held-out problems, each with a wrong answer: the build measures the
    reward model's pairwise accuracy on these, and a test can measure a served copy's."""
    rng = random.Random(seed)
    return [(p, slip(p, rng)) for p in held_out(count)]


def held_out_near_misses(count: int, seed: int = 8) -> list[tuple[Problem, int]]:
    """The same held-out problems as ``held_out_pairs``, each with a near miss instead."""
    rng = random.Random(seed)
    return [(p, near_miss(p, rng)) for p in held_out(count)]
