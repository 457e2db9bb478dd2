"""Verified instruction following (Qwen2 report 4.1, code-checked constraints): every prompt of
any prompt seed set gets 1-3 IFEval constraints appended in words (types that do not conflict,
by IFEval's rules; kwargs drawn deterministically from the job seed and the seed item), and
responses are checked by verifiers.ifeval. A response passes when it follows every
constraint; its score is the fraction it follows. SFT lines are passing responses; pairs put a
passing response against one that follows the fewest constraints. Sampling goes in rounds
until a prompt's quota is met (factory.strategies.pass_fail). The constraint ids and kwargs
travel with the prompt (its reference) and with every example (meta), so each line can be
checked again with ``factory verify ifeval``.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from factory.prompts import render
from factory.seeds import SeedKind
from factory.strategies.base import JudgedSample, PromptSpec, Sample, VerdictSpec
from factory.strategies.pass_fail import PassFailParams, PassFailStrategy, lowest_scored
from verifiers import ifeval
from verifiers.ifeval.augment import draw, wording


class IfevalParams(PassFailParams):
    template: str = "ifeval/constrained_v1"
    min_constraints: int = Field(1, ge=1, le=5, description="fewest constraints a prompt gets")
    max_constraints: int = Field(3, ge=1, le=5, description="most constraints a prompt gets")
    types: list[str] | None = Field(None, description="instruction types to draw from (IFEval "
                                                      "ids); None: all 25")
    mode: Literal["strict", "loose"] = Field("strict", description="IFEval's mode a response "
                                                                   "is judged in")

    @field_validator("types")
    @classmethod
    def _known(cls, types: list[str] | None) -> list[str] | None:
        for iid in types or ():
            ifeval.get(iid)
        if types is not None and not types:
            raise ValueError("types: give at least one instruction type, or none for all")
        return types

    @model_validator(mode="after")
    def _range(self) -> IfevalParams:
        if self.max_constraints < self.min_constraints:
            raise ValueError("max_constraints is less than min_constraints")
        return self


class InstructionFollowing(PassFailStrategy):
    name = "ifeval"
    seed_kind = SeedKind.prompts
    Params = IfevalParams
    verifier = ifeval.NAME
    verifier_version = ifeval.VERSION
    params: IfevalParams

    def _rng(self, seed: dict[str, Any]) -> random.Random:
        item = json.dumps(seed, sort_keys=True, ensure_ascii=False)
        digest = hashlib.blake2b(f"{self.params.seed}\n{item}".encode(), digest_size=8)
        return random.Random(int.from_bytes(digest.digest(), "big"))

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        p = self.params
        instruction = seed["prompt"]
        ids, kwargs = draw(self._rng(seed), instruction, p.min_constraints, p.max_constraints,
                           p.types)
        content = render(p.template, instruction=instruction, constraints=wording(ids, kwargs))
        reference = {"instruction": instruction, "instruction_id_list": ids, "kwargs": kwargs,
                     **{k: seed[k] for k in ("category",) if seed.get(k)}}
        return [PromptSpec(template_id=p.template,
                           messages=[{"role": "user", "content": content}],
                           reference=reference)]

    def judge(self, prompt: PromptSpec, samples: list[Sample]) -> list[VerdictSpec]:
        ref = prompt.reference
        verdicts = []
        for s in samples:
            check = ifeval.evaluate(s.text, ref["instruction_id_list"], ref["kwargs"])
            followed = check.strict if self.params.mode == "strict" else check.loose
            verdicts.append(VerdictSpec(
                passed=all(followed), score=sum(followed) / len(followed),
                details={"strict": check.strict, "loose": check.loose,
                         "mode": self.params.mode}))
        return verdicts

    def rejectable(self, wrong: list[JudgedSample]) -> list[JudgedSample]:
        """Pairs reject the responses that follow the fewest constraints."""
        return lowest_scored(wrong)

    def curation_meta(self, prompt: PromptSpec) -> dict[str, Any]:
        ref = prompt.reference
        return {"instruction": ref["instruction"],
                "instruction_id_list": ref["instruction_id_list"], "kwargs": ref["kwargs"]}

    def pair_meta(self, chosen: JudgedSample, rejected: JudgedSample) -> dict[str, Any]:
        return {"rejected_score": rejected.verdict.score,
                "rejected_followed": rejected.verdict.details.get(self.params.mode)}
