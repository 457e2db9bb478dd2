"""Constitutional feedback (Qwen2 report, 4.1): for each prompt and each principle that applies,
the model writes a response that follows the principle and one that violates it; a critique
pass checks each side, a side that fails is revised once with the critique in hand, and the
(follow, violate) responses become preference pairs, the follow ones SFT examples.

Principles are read from the constitution file when the job is created and stored with the
job's parameters, so workers on other hosts never need the file and the job records exactly
which wording produced its data.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from factory.constitution import Principle, load_constitution
from factory.prompts import render
from factory.seeds import SeedKind
from factory.strategies.base import (
    Ask,
    Curation,
    JudgedSample,
    PromptSpec,
    Sample,
    SeedRejected,
    VerdictSpec,
)
from factory.strategies.curation import distinct, pair_line, sft_line, spread_pairs
from factory.strategies.model_judge import JudgeParams, ModelJudged

SIDES = ("follow", "violate")
# the batch's sampling rounds, as this strategy uses them: both sides drafted, then revised
DRAFT_ROUND, REVISION_ROUND = 0, 1
TEMPLATES = {"follow": "constitutional/follow_v1", "violate": "constitutional/violate_v1",
             "critique": "constitutional/critique_v1", "revise": "constitutional/revise_v1"}


class Critique(BaseModel):
    verdict: Literal["follows", "violates"]
    reason: str = Field(max_length=200)


class ConstitutionalParams(JudgeParams):
    constitution: str = Field("default", description="constitution file, or 'default'")
    only: list[str] | None = Field(None, description="use just these principle ids")
    principles: list[Principle] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    samples_per_side: int = Field(1, ge=1, le=8)
    revise: bool = Field(True, description="revise a side that fails its critique, once")
    sft_per_prompt: int = Field(1, ge=0)
    pairs_per_prompt: int = Field(1, ge=0)
    max_tokens: int = 384

    @model_validator(mode="after")
    def _load(self) -> ConstitutionalParams:
        if self.principles:  # already loaded: a stored job's parameters
            return self
        path = None if self.constitution == "default" else self.constitution
        loaded = load_constitution(path)
        self.categories = loaded.categories
        self.principles = loaded.principles
        if self.only:
            unknown = sorted(set(self.only) - {p.id for p in loaded.principles})
            if unknown:
                raise ValueError(f"{self.constitution}: no principle with id "
                                 f"{', '.join(map(repr, unknown))}")
            self.principles = [p for p in loaded.principles if p.id in self.only]
        return self


class ConstitutionalFeedback(ModelJudged):
    name = "constitutional"
    seed_kind = SeedKind.prompts
    Params = ConstitutionalParams
    Reply = Critique
    params: ConstitutionalParams

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        category = seed.get("category")
        known = self.params.categories
        if category is not None and known and category not in known:
            raise SeedRejected(f"prompt category {category!r} is not one the constitution "
                               f"declares ({', '.join(known)})")
        user = [{"role": "user", "content": seed["prompt"]}]
        return [PromptSpec(prompt_key=p.id, template_id=TEMPLATES["follow"], messages=user,
                           reference={"principle": p.model_dump(exclude_none=True),
                                      "category": category, "templates": TEMPLATES})
                for p in self.params.principles if p.applies_to(category)]

    def _side(self, prompt: PromptSpec, side: str) -> list[dict[str, str]]:
        system = render(TEMPLATES[side], principle=prompt.reference["principle"])
        return [{"role": "system", "content": system}, *prompt.messages]

    def asks(self, prompt: PromptSpec, round: int, judged: list[JudgedSample]) -> list[Ask]:
        if round == DRAFT_ROUND:
            return [Ask(n=self.params.samples_per_side, name=side,
                        messages=self._side(prompt, side)) for side in SIDES]
        if round != REVISION_ROUND or not self.params.revise:
            return []
        out = []
        for side in SIDES:
            mine = [s for s in judged if s.ask == side]
            if not mine or any(s.verdict.passed for s in mine):
                continue
            failed = mine[0]
            reason = failed.verdict.details.get("reason") or "the critique could not be read"
            revise = render(TEMPLATES["revise"], side=side, reason=reason)
            out.append(Ask(n=1, name=side, messages=[
                *self._side(prompt, side), {"role": "assistant", "content": failed.text},
                {"role": "user", "content": revise}]))
        return out

    def judge_messages(self, prompt: PromptSpec, sample: Sample, before: list[JudgedSample]
                       ) -> list[dict[str, str]]:
        content = render(TEMPLATES["critique"], principle=prompt.reference["principle"],
                         request=prompt.messages[-1]["content"], response=sample.text)
        return [{"role": "user", "content": content}]

    def verdict(self, prompt: PromptSpec, sample: Sample, reply: Any,
                before: list[JudgedSample]) -> VerdictSpec:
        ok = (reply.verdict == "follows") == (sample.ask == "follow")
        return VerdictSpec(passed=ok, score=float(ok),
                         details={**reply.model_dump(), "side": sample.ask,
                                  "revised": sample.round == REVISION_ROUND})

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        kept = {side: distinct([s for s in judged if s.ask == side and s.verdict.passed])
                for side in SIDES}
        base = {"principle": prompt.reference["principle"]["id"],
                "category": prompt.reference.get("category")}

        def meta(s: JudgedSample) -> dict[str, Any]:
            return {"revised": s.round == REVISION_ROUND,
                    "critique": s.verdict.details.get("reason")}

        sft = [sft_line(prompt.messages, s, {**base, **meta(s)})
               for s in kept["follow"][:self.params.sft_per_prompt]]
        pairs = [pair_line(prompt.messages, c, r,
                           {**base, "chosen_revised": c.round == REVISION_ROUND,
                            "rejected_revised": r.round == REVISION_ROUND})
                 for c, r in spread_pairs(kept["follow"], kept["violate"],
                                          self.params.pairs_per_prompt)]
        flag = None if kept["follow"] and kept["violate"] else "no_pair"
        return Curation(sft=sft, pairs=pairs, flag=flag)
