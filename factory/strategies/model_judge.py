"""Strategies whose verifier is the model itself.

The judge reads each sample and answers with a verdict that vLLM's structured outputs hold to a
JSON schema; the verdict (score, reason, the judge's token counts) is stored like any other
verifier's. A reply that still does not parse is a failed verdict with the reason, never a
crash. A judge request the server refuses (a 4xx: the sample too long to judge, say) is an
errored verdict marked ``permanent``: the refusal is the request's own, so the judge's retry
of errored checks does not ask it again; a garbled answer is errored and retried. Judging runs
on the generate queue, where workers reach the model server.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, Field, ValidationError

from factory.llm import LLM, LLMRefused, LLMResponseError, SamplingParams, request_seed
from factory.strategies.base import (
    JudgedSample,
    JudgeWork,
    PromptSpec,
    Sample,
    Strategy,
    StrategyParams,
    VerdictSpec,
)

RAW_KEPT = 500


class ScoreReply(BaseModel):
    """A 1-5 rating with a short reason (bounded, so a small model cannot ramble forever)."""

    score: int = Field(ge=1, le=5)
    reason: str = Field(max_length=200)


class JudgeParams(StrategyParams):
    min_score: int = Field(4, ge=1, le=5, description="verdicts scoring below this fail")
    judge_temperature: float = Field(0.0, ge=0)
    judge_max_tokens: int = Field(160, ge=16)


class ModelJudged(Strategy):
    """Subclasses write the judge's chat for a sample; the schema its reply is held to
    (``Reply``) defaults to a 1-5 score."""

    verifier = "model-judge"
    verifier_version = "v1"
    judge_queue = "generate"  # the judge is the model: run where workers reach its server
    judge_needs_model = True
    Reply: ClassVar[type[BaseModel]] = ScoreReply
    params: JudgeParams

    @abstractmethod
    def judge_messages(self, prompt: PromptSpec, sample: Sample, before: list[JudgedSample]
                       ) -> list[dict[str, str]] | VerdictSpec:
        """The judge's chat for one sample (``before``: the prompt's samples judged in earlier
        rounds), or a verdict given without asking, say for a sample that does not parse."""

    def verdict(self, prompt: PromptSpec, sample: Sample, reply: Any,
                before: list[JudgedSample]) -> VerdictSpec:
        """A parsed reply as a verdict; by default the score against ``min_score``."""
        return VerdictSpec(passed=reply.score >= self.params.min_score, score=float(reply.score),
                         details=reply.model_dump())

    async def judge_with_model(self, llm: LLM, work: list[JudgeWork]) -> list[list[VerdictSpec]]:
        flat = [(prompt, sample, before) for prompt, samples, before in work for sample in samples]
        found = await asyncio.gather(*(self._judge_one(llm, *item) for item in flat))
        out, i = [], 0
        for _, samples, _ in work:
            out.append(list(found[i:i + len(samples)]))
            i += len(samples)
        return out

    async def _judge_one(self, llm: LLM, prompt: PromptSpec, sample: Sample,
                         before: list[JudgedSample]) -> VerdictSpec:
        asked = self.judge_messages(prompt, sample, before)
        if isinstance(asked, VerdictSpec):
            return asked
        p = self.params
        params = SamplingParams(n=1, temperature=p.judge_temperature, max_tokens=p.judge_max_tokens,
                                seed=request_seed(p.seed, asked, "judge", 0),
                                json_schema=self.Reply.model_json_schema())
        try:
            result = await llm.chat(asked, params)
        except LLMResponseError as exc:  # the check failed; refused (too long to judge, say):
            reason = f"judge request failed: {exc}"  # the same however often it is asked
            return VerdictSpec(passed=False, details={"error": reason}, error=reason,
                               permanent=isinstance(exc, LLMRefused))
        text = result.samples[0].text
        usage = {"judge_model": result.model, "judge_prompt_tokens": result.prompt_tokens,
                 "judge_completion_tokens": result.samples[0].completion_tokens}
        try:
            reply = self.Reply.model_validate_json(text)
        except ValidationError as exc:
            err = exc.errors()[0]
            return VerdictSpec(passed=False, details={
                "error": f"judge reply is not a valid verdict: {err['msg']}",
                "raw": text[:RAW_KEPT], **usage})
        verdict = self.verdict(prompt, sample, reply, before)
        verdict.details.update(usage)
        return verdict
