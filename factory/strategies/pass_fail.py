"""What strategies whose verifier says pass or fail share: sampling in rounds until a prompt's
quota is met (k distinct passing samples and m pairs possible) or N samples are spent, and
curation - keep up to k distinct passing samples as SFT examples, pair passing against failing
ones (at most m), and flag prompts that always pass (too easy) or never do (too hard).

Curation keeps at most k SFT lines and m pairs per prompt, so a prompt that meets its quota
after t samples yields as much as it would from N: the samples after t would be spent for
nothing. Stopping a prompt that has only passed (or only failed) before its quota is met loses
examples (a later sample might differ), so that is an option (``settle_after``), off by
default; bench/stop_rules.py measures both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from factory.strategies.base import Curation, JudgedSample, PromptSpec, Strategy, StrategyParams
from factory.strategies.curation import distinct, pair_line, sft_line, spread_pairs

# Which failing samples may be a pair's rejected side (all of them unless a strategy says)
Rejectable = Callable[[list[JudgedSample]], list[JudgedSample]]


class PassFailParams(StrategyParams):
    first_round: int = Field(4, ge=1, description="samples per prompt in the first round")
    per_round: int = Field(4, ge=1, description="samples per later round")
    max_samples: int = Field(16, ge=1, description="N: most samples one prompt may get")
    sft_per_problem: int = Field(2, ge=0, description="k: distinct passing samples kept")
    pairs_per_problem: int = Field(4, ge=0, description="m: (passing, failing) pairs kept")
    settle_after: int | None = Field(
        None, ge=1, description="stop a prompt that has only passed or only failed after this "
                                "many samples (flagged too easy / too hard); None: never")


class PassFailStrategy(Strategy):
    """A strategy judged pass/fail: a prompt stops sampling once curation has all it can keep
    from it; subclasses add prompts, judging and metadata."""

    params: PassFailParams

    def samples_wanted(self, round: int, judged: list[JudgedSample]) -> int:
        p = self.params
        left = p.max_samples - len(judged)
        if round == 0:
            return max(0, min(p.first_round, left))
        if quota_met(judged, p.sft_per_problem, p.pairs_per_problem, self.rejectable) or settled(
                judged, p.settle_after):
            return 0
        return max(0, min(p.per_round, left))

    def curation_meta(self, prompt: PromptSpec) -> dict[str, Any]:
        return {}

    def rejectable(self, wrong: list[JudgedSample]) -> list[JudgedSample]:
        """The distinct failing samples a pair may reject (all of them, here)."""
        return wrong

    def pair_meta(self, chosen: JudgedSample, rejected: JudgedSample) -> dict[str, Any]:
        return {}

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        return curate_pass_fail(prompt, judged, self.params.sft_per_problem,
                                self.params.pairs_per_problem, self.curation_meta(prompt),
                                self.pair_meta, self.rejectable)


def lowest_scored(wrong: list[JudgedSample]) -> list[JudgedSample]:
    """The failing samples with the lowest score (checks that errored left out): for
    strategies whose pairs reject the worst failures, not any failure."""
    sound = [s for s in wrong if s.verdict.error is None]
    fewest = min((s.verdict.score or 0.0 for s in sound), default=None)
    return [s for s in sound if (s.verdict.score or 0.0) == fewest]


def _outcomes(judged: list[JudgedSample], rejectable: Rejectable | None = None
              ) -> tuple[int, int]:
    """Distinct passing and distinct failing samples (those ``rejectable`` keeps); a sample
    whose check errored is neither."""
    sound = [s for s in judged if s.verdict.error is None]
    wrong = distinct([s for s in sound if not s.verdict.passed])
    return (len(distinct([s for s in sound if s.verdict.passed])),
            len(rejectable(wrong) if rejectable else wrong))


def quota_met(judged: list[JudgedSample], k: int, m: int,
              rejectable: Rejectable | None = None) -> bool:
    """Whether curation could already keep k SFT lines and m pairs (see spread_pairs)."""
    right, wrong = _outcomes(judged, rejectable)
    return right >= k and right * wrong >= m


def settled(judged: list[JudgedSample], after: int | None) -> bool:
    """Whether ``after`` samples have all passed or all failed (their checks sound)."""
    right, wrong = _outcomes(judged)
    return after is not None and len(judged) >= after and (right == 0 or wrong == 0)


def curate_pass_fail(prompt: PromptSpec, judged: list[JudgedSample], k: int, m: int,
                     meta: dict[str, Any] | None = None,
                     pair_meta: Callable[[JudgedSample, JudgedSample], dict[str, Any]]
                     | None = None, rejectable: Rejectable | None = None) -> Curation:
    right = distinct([s for s in judged if s.verdict.passed])
    wrong = distinct([s for s in judged if not s.verdict.passed])
    if rejectable:
        wrong = rejectable(wrong)
    rate = sum(s.verdict.passed for s in judged) / len(judged) if judged else 0.0
    meta = {"pass_rate": rate, "samples": len(judged), **(meta or {})}
    sft = [sft_line(prompt.messages, s, meta) for s in right[:k]]
    pairs = [pair_line(prompt.messages, c, w, {**meta, **(pair_meta(c, w) if pair_meta else {})})
             for c, w in spread_pairs(right, wrong, m)]
    flag = None
    if judged and rate == 1.0:
        flag = "too_easy"
    elif judged and rate == 0.0:
        flag = "too_hard"
    return Curation(sft=sft, pairs=pairs, flag=flag)
