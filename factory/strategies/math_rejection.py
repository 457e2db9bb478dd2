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
    PairSpec,
    PromptSpec,
    SftSpec,
    Strategy,
    StrategyParams,
)
from verifiers import math_answer


class MathParams(StrategyParams):
    template: str = "math/solve_v1"
    first_round: int = Field(4, ge=1, description="samples per problem in the first round")
    per_round: int = Field(4, ge=1, description="samples per later round")
    max_samples: int = Field(16, ge=1, description="N: most samples one problem may get")
    sft_per_problem: int = Field(2, ge=0, description="k: distinct correct solutions kept")
    pairs_per_problem: int = Field(4, ge=0, description="m: (correct, wrong) pairs kept")


def _distinct(samples: list[JudgedSample]) -> list[JudgedSample]:
    seen: set[str] = set()
    out = []
    for s in sorted(samples, key=lambda s: s.sample_index):
        norm = " ".join(s.text.split())
        if norm not in seen:
            seen.add(norm)
            out.append(s)
    return out


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
        p = self.params
        right = _distinct([s for s in judged if s.judgement.passed])
        wrong = _distinct([s for s in judged if not s.judgement.passed])
        rate = sum(s.judgement.passed for s in judged) / len(judged) if judged else 0.0
        meta = {"pass_rate": rate, "samples": len(judged), "reference": prompt.reference["answer"]}
        sft = [SftSpec(key=f"sft:{s.generation_id}", generation_id=s.generation_id,
                       messages=[*prompt.messages, {"role": "assistant", "content": s.text}],
                       score=1.0, meta=meta)
               for s in right[: p.sft_per_problem]]
        pairs = []
        combos = [(c, w) for i, w in enumerate(wrong) for c in right[i:] + right[:i]]
        combos.sort(key=lambda cw: (max(right.index(cw[0]), wrong.index(cw[1]))))
        for c, w in combos[: p.pairs_per_problem]:
            pairs.append(PairSpec(
                key=f"pair:{c.generation_id}:{w.generation_id}",
                chosen_generation_id=c.generation_id, rejected_generation_id=w.generation_id,
                prompt=prompt.messages, chosen=[{"role": "assistant", "content": c.text}],
                rejected=[{"role": "assistant", "content": w.text}], score=1.0,
                meta={**meta, "rejected_answer": w.judgement.details.get("extracted")}))
        flag = None
        if judged and rate == 1.0:
            flag = "too_easy"
        elif judged and rate == 0.0:
            flag = "too_hard"
        return Curation(sft=sft, pairs=pairs, flag=flag)


