"""Rejection sampling on math (Qwen2 report, 4.1): sample solutions, keep the ones whose final
answer is equivalent to the reference, pair correct against wrong.

Samples come in rounds: a few first, more only while a problem lacks either a correct or a
wrong sample, up to ``max_samples`` - so easy problems stop burning GPU time early.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from factory.prompts import render
from factory.seeds import SeedKind
from factory.strategies.base import (
    Curation,
    JudgedSample,
    Judgement,
    PromptSpec,
    Strategy,
    StrategyParams,
)
from factory.strategies.selection import curate_pass_fail
from verifiers import math_answer


class MathParams(StrategyParams):
    template: str = "math/solve_v1"
    first_round: int = Field(4, ge=1, description="samples per problem in the first round")
    per_round: int = Field(4, ge=1, description="samples per later round")
    max_samples: int = Field(16, ge=1, description="N: most samples one problem may get")
    sft_per_problem: int = Field(2, ge=0, description="k: distinct correct solutions kept")
    pairs_per_problem: int = Field(4, ge=0, description="m: (correct, wrong) pairs kept")


class MathRejectionSampling(Strategy):
    name = "math"
    seed_kind = SeedKind.math
    Params = MathParams
    verifier = math_answer.NAME
    verifier_version = math_answer.VERSION
    params: MathParams

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        content = render(self.params.template, problem=seed["problem"])
        return [PromptSpec(template_id=self.params.template,
                           messages=[{"role": "user", "content": content}],
                           reference={"answer": seed["answer"]})]

    def samples_wanted(self, round: int, judged: list[JudgedSample]) -> int:
        p = self.params
        left = p.max_samples - len(judged)
        if round == 0:
            return max(0, min(p.first_round, left))
        outcomes = {s.judgement.passed for s in judged}
        if outcomes == {True, False}:
            return 0
        return max(0, min(p.per_round, left))

    def judge(self, prompt: PromptSpec, texts: list[str]) -> list[Judgement]:
        gold = prompt.reference["answer"]
        checks = math_answer.check_many([(gold, t) for t in texts])
        return [Judgement(passed=c.correct, score=float(c.correct), details=c.model_dump())
                for c in checks]

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        return curate_pass_fail(
            prompt, judged, self.params.sft_per_problem, self.params.pairs_per_problem,
            meta={"reference": prompt.reference["answer"]},
            pair_meta=lambda c, w: {"rejected_answer": w.judgement.details.get("extracted")})
