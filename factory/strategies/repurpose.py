"""Literary repurposing (Qwen2 report, 4.1): writing is hard to annotate, so good public-domain
text is taken as the answer and the model writes the instruction it answers ("instruction
backtranslation"). A judge pass scores each (instruction, passage) pair; pairs under the
threshold are dropped. The SFT example's assistant turn is the original passage, unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from factory.prompts import render
from factory.seeds import SeedKind, passage_source
from factory.strategies.base import (
    Curation,
    JudgedSample,
    PromptSpec,
    Sample,
    SftSpec,
    VerdictSpec,
)
from factory.strategies.curation import best_passing
from factory.strategies.model_judge import JudgeParams, ModelJudged

MIN_INSTRUCTION_WORDS = 4


class RepurposeParams(JudgeParams):
    candidates: int = Field(2, ge=1, le=16, description="instructions written per passage")
    sft_per_passage: int = Field(1, ge=0, description="best-scored instructions kept")
    max_tokens: int = 160
    template: str = "repurpose/instruction_v1"
    judge_template: str = "repurpose/judge_v1"


class LiteraryRepurposing(ModelJudged):
    name = "repurpose"
    seed_kind = SeedKind.text
    Params = RepurposeParams
    params: RepurposeParams

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        content = render(self.params.template, passage=seed["text"], title=seed.get("title"),
                         author=seed.get("author"))
        source = passage_source(seed)
        return [PromptSpec(template_id=self.params.template,
                           messages=[{"role": "user", "content": content}],
                           reference={"passage": seed["text"], **source})]

    def samples_wanted(self, round: int, judged: list[JudgedSample]) -> int:
        return self.params.candidates if round == 0 else 0

    def judge_messages(self, prompt: PromptSpec, sample: Sample, before: list[JudgedSample]
                       ) -> list[dict[str, str]] | VerdictSpec:
        instruction = clean_instruction(sample.text)
        if len(instruction.split()) < MIN_INSTRUCTION_WORDS:
            return VerdictSpec(passed=False, details={"error": "instruction too short"})
        content = render(self.params.judge_template, instruction=instruction,
                         passage=prompt.reference["passage"])
        return [{"role": "user", "content": content}]

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        ref = prompt.reference
        best = best_passing(judged)
        sft = [SftSpec(key=f"sft:{s.generation_id}", generation_id=s.generation_id,
                       messages=[{"role": "user", "content": clean_instruction(s.text)},
                                 {"role": "assistant", "content": ref["passage"]}],
                       score=s.verdict.score,
                       meta={"source": passage_source(ref),
                             "judge_reason": s.verdict.details.get("reason")})
               for s in best[:self.params.sft_per_passage]]
        return Curation(sft=sft, flag=None if sft else "no_instruction")


def clean_instruction(text: str) -> str:
    """The instruction without a leading label or wrapping quotes a model likes to add."""
    text = text.strip()
    for label in ("Instruction:", "instruction:"):
        if text.startswith(label):
            text = text[len(label):].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text
