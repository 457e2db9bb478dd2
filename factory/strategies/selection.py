"""What strategies whose verifier says pass or fail share: sampling in rounds until a prompt
has both a passing and a failing sample (or N samples), and curation - keep up to k distinct
passing samples as SFT examples, pair passing against failing ones (at most m), and flag
prompts that always pass (too easy) or never do (too hard)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from factory.strategies.base import Curation, JudgedSample, PromptSpec, Strategy, StrategyParams
from factory.strategies.curation import distinct, pair_line, sft_line, spread_pairs


class PassFailParams(StrategyParams):
    first_round: int = Field(4, ge=1, description="samples per prompt in the first round")
    per_round: int = Field(4, ge=1, description="samples per later round")
    max_samples: int = Field(16, ge=1, description="N: most samples one prompt may get")
    sft_per_problem: int = Field(2, ge=0, description="k: distinct passing samples kept")
    pairs_per_problem: int = Field(4, ge=0, description="m: (passing, failing) pairs kept")


class PassFailStrategy(Strategy):
    """A strategy judged pass/fail: rounds stop once both outcomes are seen, so easy prompts
    stop burning GPU time early; subclasses add prompts, judging and metadata."""

    params: PassFailParams

    def samples_wanted(self, round: int, judged: list[JudgedSample]) -> int:
        p = self.params
        left = p.max_samples - len(judged)
        if round == 0:
            return max(0, min(p.first_round, left))
        if {s.judgement.passed for s in judged} == {True, False}:
            return 0
        return max(0, min(p.per_round, left))

    def curation_meta(self, prompt: PromptSpec) -> dict[str, Any]:
        return {}

    def pair_meta(self, chosen: JudgedSample, rejected: JudgedSample) -> dict[str, Any]:
        return {}

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        return curate_pass_fail(prompt, judged, self.params.sft_per_problem,
                                self.params.pairs_per_problem, self.curation_meta(prompt),
                                self.pair_meta)


def curate_pass_fail(prompt: PromptSpec, judged: list[JudgedSample], k: int, m: int,
                     meta: dict[str, Any] | None = None,
                     pair_meta: Callable[[JudgedSample, JudgedSample], dict[str, Any]]
                     | None = None) -> Curation:
    right = distinct([s for s in judged if s.judgement.passed])
    wrong = distinct([s for s in judged if not s.judgement.passed])
    rate = sum(s.judgement.passed for s in judged) / len(judged) if judged else 0.0
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
