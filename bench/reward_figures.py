"""Figures of a reward model against a verifier over a job's prompts, shared by
bench/reward_agreement.py (scores served by vLLM) and bench/reward_rescore.py (the same samples
re-scored offline): pure, so the latter runs in the vLLM environment, which has no database
libraries."""

from __future__ import annotations

import bisect
import statistics
from itertools import product

from factory.agreement import Agreement, best_vs_worst, pairwise

Group = list[tuple[bool, float]]  # a prompt's samples in generation order: (correct?, score)


def chance(group: Group) -> float:
    """A random scorer's odds that the best is correct (c/n) and then the worst wrong
    (w/(n-1))."""
    right = sum(ok for ok, _ in group)
    return right * (len(group) - right) / (len(group) * (len(group) - 1))


def mixed(groups: list[Group]) -> list[Group]:
    """The prompts with both a correct and a wrong sample: the only ones a scorer can rank."""
    return [g for g in groups if 0 < sum(ok for ok, _ in g) < len(g)]


def figures(groups: list[Group]) -> tuple[Agreement, Agreement, float]:
    """Best vs worst, pairwise, and a random scorer's expected best-vs-worst rate."""
    pairs = [(c, w) for group in groups
             for (_, c), (_, w) in product([r for r in group if r[0]],
                                           [r for r in group if not r[0]])]
    both = mixed(groups)
    expected = sum(map(chance, both)) / len(both) if both else 0.0
    return best_vs_worst(groups), pairwise(pairs), expected


def report(label: str, groups: list[Group]) -> None:
    bvw, pw, expected = figures(groups)
    print(f"{label}: {len(groups)} prompts, {bvw.compared} with a correct and a wrong sample; "
          f"best correct and worst wrong {bvw.agree} of {bvw.compared} = {bvw.rate or 0:.3f} "
          f"(random: {expected:.3f}); pairwise {pw.agree} of {pw.compared} = "
          f"{pw.rate or 0:.3f} ({pw.ties} ties; random: 0.5)")


def spread(groups: list[Group]) -> None:
    """Why the figures are what they are: how far apart a prompt's scores lie (what min_margin
    is compared with), and how correct and wrong samples of *different* prompts compare."""
    widths = [max(s for _, s in g) - min(s for _, s in g) for g in mixed(groups)]
    right = sorted(s for g in groups for ok, s in g if ok)
    wrong = [s for g in groups for ok, s in g if not ok]
    above = sum(len(right) - bisect.bisect_right(right, w) for w in wrong)
    print(f"within a mixed prompt, best minus worst score: median "
          f"{statistics.median(widths) if widths else 0:.3f}, >= 1.0 (the default min_margin) "
          f"in {sum(w >= 1.0 for w in widths)} of {len(widths)}")
    print(f"across prompts, P(a correct sample scores above a wrong one): "
          f"{above / (len(right) * len(wrong)) if right and wrong else 0:.3f} over "
          f"{len(right)} x {len(wrong)} samples")
