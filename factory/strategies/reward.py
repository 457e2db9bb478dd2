"""Preference pairs scored by a reward model (the Qwen2 report's online stage, 4.1).

Each prompt gets ``n`` responses (one request per sampling temperature); the reward model
scores every one of them, in batches, in the judge stage; the best against the worst is a
preference pair when their scores are at least ``min_margin`` apart, and the best is an SFT
candidate when its score is above ``min_score``. Every sample's score is stored on its verdict.

Works on any prompt seed set (bundled, evolved InsTag sets, constitutional prompts...). The
prompt is the seed's text as it is, or rendered with another template (``template``); both
``instruction`` and ``problem`` are passed, so ``math/solve_v1`` renders arithmetic prompts
exactly as the math strategy does - the text the tiny reward model was calibrated on.

The reward model is reached through the runner's ``reward_base_url`` (``FACTORY_REWARD_BASE_URL``,
see :mod:`factory.llm.reward_client`). Chunks of ``score_batch`` responses are sent all at once:
the client's own limit (``FACTORY_LLM_CONCURRENCY`` a server) bounds the requests in flight.
A response the server refuses (longer than the reward model's context, say) gets an errored
verdict with the server's reason, and the rest are scored and paired without it; the refusal
is the response's own (a 4xx), so the judge's retry of errored checks neither sends it again
nor re-scores its prompt's other responses. The client refuses, the same way and without
sending it, a response that spells out chat markup (``<|im_start|>`` and the like; see
:func:`factory.llm.reward_client.unsendable`). A reward
server that is down or answers garbage fails the judge step with the reason (retried like any
step, then the job fails): no sample is paired or exported unscored.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field, model_validator

from factory.llm import LLM, LLMRefused, LLMResponseError
from factory.llm.reward_client import RewardItem, RewardModel, Scored, connect_reward
from factory.prompts import render
from factory.seeds import SeedKind
from factory.strategies.base import (
    Curation,
    JudgedSample,
    JudgeWork,
    PromptSpec,
    Sample,
    VerdictSpec,
)
from factory.strategies.curation import pair_line, sft_line
from factory.strategies.responses import TEMPLATE, RespondParams, Responses


class RewardParams(RespondParams):
    template: str = Field(TEMPLATE, description="template the seed's prompt is rendered with "
                          "(as `instruction` and `problem`)")
    min_margin: float = Field(1.0, ge=0, description="best and worst form a pair when their "
                              "scores are at least this far apart")
    min_score: float = Field(0.0, description="the best is an SFT candidate when its score is "
                             "above this (the tiny reward model: above 0 = probably right)")
    score_batch: int = Field(64, ge=1, description="responses per call to the reward model "
                             "(calls run at once, up to the client's concurrency)")

    @model_validator(mode="after")
    def _two_responses(self) -> RewardParams:
        if len(self.temperatures) * self.per_setting < 2:
            raise ValueError("a pair needs at least 2 responses per prompt "
                             "(temperatures x per_setting)")
        return self


class RewardScored(Responses):
    """The responses strategy's asks (one request per temperature), judged by the reward
    model instead of people."""

    name = "reward"
    seed_kind = SeedKind.prompts
    Params = RewardParams
    verifier = "reward-model"
    verifier_version = "v1"
    judge_queue = "generate"  # the reward server is reached where the model servers are
    judge_needs_model = True
    params: RewardParams

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        template = self.params.template
        content = render(template, instruction=seed["prompt"], problem=seed["prompt"])
        return [PromptSpec(template_id=template, messages=[{"role": "user", "content": content}],
                           reference={k: seed[k] for k in ("category", "tags") if k in seed})]

    def judge(self, prompt: PromptSpec, samples: list[Sample]) -> list[VerdictSpec]:
        raise NotImplementedError("the reward strategy is judged by the reward model")

    def reward_model(self) -> RewardModel:
        """The reward model behind the runner's settings (a test may substitute its own)."""
        return connect_reward(self.settings)

    async def judge_with_model(self, llm: LLM, work: list[JudgeWork]) -> list[list[VerdictSpec]]:
        # ``llm`` is the generator; the judge here is the reward model
        items = [(prompt.messages, sample.text) for prompt, samples, _ in work
                 for sample in samples]
        size = self.params.score_batch
        rm = self.reward_model()
        try:
            chunks = await asyncio.gather(*(_score_chunk(rm, items[start : start + size])
                                            for start in range(0, len(items), size)))
            scores = [s for chunk in chunks for s in chunk]
            if scores and all(isinstance(s, LLMRefused) for s in scores):
                await _refuses_everything(rm)
        finally:
            await rm.aclose()
        out, i = [], 0
        for _, samples, _ in work:
            out.append([self._verdict(s, rm.model) for s in scores[i : i + len(samples)]])
            i += len(samples)
        return out

    def _verdict(self, score: Scored, model: str) -> VerdictSpec:
        if isinstance(score, LLMRefused):  # this response only: never scored, never paired
            reason = f"reward model {model} refused the response: {score}"
            return VerdictSpec(passed=False, error=reason, permanent=True,
                               details={"reward_model": model})
        return VerdictSpec(passed=score > self.params.min_score, score=score,
                           details={"reward": score, "reward_model": model})

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        scored = [s for s in judged if s.verdict.score is not None]
        if len(scored) < 2:
            return Curation(flag="too_few_scored")
        # ties: the earlier sample (a stable order, so re-runs curate the same)
        order = sorted(scored, key=lambda s: (s.generation_id, s.sample_index))
        best = max(order, key=lambda s: s.verdict.score)  # type: ignore[arg-type,return-value]
        worst = min(order, key=lambda s: s.verdict.score)  # type: ignore[arg-type,return-value]
        hi, lo = best.verdict.score, worst.verdict.score
        assert hi is not None and lo is not None
        margin = hi - lo
        model = best.verdict.details.get("reward_model")
        meta = {"reward_model": model, "samples": len(scored), "margin": margin,
                "chosen_score": hi, "rejected_score": lo}
        p = self.params
        cur = Curation()
        if hi > p.min_score:
            cur.sft.append(sft_line(prompt.messages, best, {"reward_model": model,
                                                            "samples": len(scored)}))
        if margin >= p.min_margin and best.text != worst.text:
            cur.pairs.append(pair_line(prompt.messages, best, worst, meta))
        else:
            cur.flag = "no_margin"
        return cur


PROBE: RewardItem = ([{"role": "user", "content": "Say hello."}], "Hello!")


async def _refuses_everything(rm: RewardModel) -> None:
    """Every response refused: a server that refuses even a one-line probe refuses the requests
    themselves (a field it rejects, say), and the step fails with its reason rather than ending
    the job with nothing scored; otherwise the refusals were the responses' own (too long)."""
    (probe,) = await rm.score([PROBE])
    if isinstance(probe, LLMRefused):
        raise LLMResponseError(f"the reward model {rm.model} refuses every request, even a "
                               f"one-line probe: {probe}")


async def _score_chunk(rm: RewardModel, chunk: list[RewardItem]) -> list[Scored]:
    got = await rm.score(chunk)
    if len(got) != len(chunk):  # a stand-in that miscounts; never guess
        raise ValueError(f"reward model {rm.model} scored {len(got)} of {len(chunk)} responses")
    return got
