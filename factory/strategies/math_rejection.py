"""Rejection sampling on math (Qwen2 report, 4.1): sample solutions, keep the ones whose final
answer is equivalent to the reference, pair correct against wrong.

Samples come in rounds: a few first, more only while a problem lacks what curation keeps from
it (k distinct correct samples, m correct-wrong pairs), up to ``max_samples`` - so no GPU time
goes to samples that could not change the data (see factory.strategies.pass_fail).
"""

from __future__ import annotations

from typing import Any

from factory.prompts import render
from factory.seeds import SeedKind
from factory.strategies.base import (
    JudgedSample,
    PromptSpec,
    Sample,
    VerdictSpec,
)
from factory.strategies.pass_fail import PassFailParams, PassFailStrategy
from verifiers import math_answer


class MathParams(PassFailParams):
    template: str = "math/solve_v1"


class MathRejectionSampling(PassFailStrategy):
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

    def judge(self, prompt: PromptSpec, samples: list[Sample]) -> list[VerdictSpec]:
        gold = prompt.reference["answer"]
        checks = math_answer.check_many([(gold, s.text) for s in samples])
        return [VerdictSpec(passed=c.correct, score=float(c.correct), details=c.model_dump(),
                          error=c.error if c.check_failed else None)
                for c in checks]

    def curation_meta(self, prompt: PromptSpec) -> dict[str, Any]:
        return {"reference": prompt.reference["answer"]}

    def pair_meta(self, chosen: JudgedSample, rejected: JudgedSample) -> dict[str, Any]:
        return {"rejected_answer": rejected.verdict.details.get("extracted")}
