"""Several responses per instruction for people to rank (collaborative annotation, Qwen2 4.1).

Each instruction gets samples under several sampling settings, so the annotation app has
responses that differ; nothing is judged automatically. ``factory annotate create --job J``
turns the samples into ranking tasks, and the rankings become preference pairs and SFT lines.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from factory.prompts import render
from factory.seeds import SeedKind
from factory.strategies.base import (
    Ask,
    Curation,
    JudgedSample,
    PromptSpec,
    Sample,
    Strategy,
    StrategyParams,
    VerdictSpec,
)

TEMPLATE = "respond/instruction_v1"  # the instruction as it is; a version to change it by


class RespondParams(StrategyParams):
    temperatures: list[float] = Field(default_factory=lambda: [0.3, 0.7, 1.0], min_length=1,
                                      description="one request per sampling temperature")
    per_setting: int = Field(1, ge=1, le=8, description="samples per temperature")


class Responses(Strategy):
    name = "respond"
    seed_kind = SeedKind.prompts
    Params = RespondParams
    verifier = "awaiting-people"
    verifier_version = "v2"
    params: RespondParams

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        content = render(TEMPLATE, instruction=seed["prompt"])
        return [PromptSpec(template_id=TEMPLATE, messages=[{"role": "user", "content": content}],
                           reference={k: seed[k] for k in ("category", "tags") if k in seed})]

    def asks(self, prompt: PromptSpec, round: int, judged: list[JudgedSample]) -> list[Ask]:
        if round > 0:
            return []
        return [Ask(n=self.params.per_setting, name=f"t{t:g}", temperature=t)
                for t in self.params.temperatures]

    def judge(self, prompt: PromptSpec, samples: list[Sample]) -> list[VerdictSpec]:
        # Nobody has judged these yet: people rank them in the annotation app. The verdict
        # says so (pending), and acceptance figures leave it out.
        return [VerdictSpec(passed=False, pending=True,
                          details={"pending": "ranked by people in the annotation app"})
                for _ in samples]

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        return Curation()
