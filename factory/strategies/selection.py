"""What strategies whose verifier says pass or fail share: sampling in rounds until a prompt
has both a passing and a failing sample (or N samples), and curation - keep up to k distinct
passing samples as SFT examples, pair passing against failing ones (at most m), and flag
prompts that always pass (too easy) or never do (too hard)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from factory.strategies.base import (
    Curation,
    JudgedSample,
    PairSpec,
    PromptSpec,
    SftSpec,
    Strategy,
    StrategyParams,
)


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


def distinct(samples: list[JudgedSample]) -> list[JudgedSample]:
    """Samples in order, dropping those equal to an earlier one up to whitespace."""
    seen: set[str] = set()
    out = []
    for s in sorted(samples, key=lambda s: s.sample_index):
        norm = " ".join(s.text.split())
        if norm not in seen:
            seen.add(norm)
            out.append(s)
    return out


def curate_pass_fail(prompt: PromptSpec, judged: list[JudgedSample], k: int, m: int,
                     meta: dict[str, Any] | None = None,
                     pair_meta: Callable[[JudgedSample, JudgedSample], dict[str, Any]]
                     | None = None) -> Curation:
    right = distinct([s for s in judged if s.judgement.passed])
    wrong = distinct([s for s in judged if not s.judgement.passed])
    rate = sum(s.judgement.passed for s in judged) / len(judged) if judged else 0.0
    meta = {"pass_rate": rate, "samples": len(judged), **(meta or {})}
    sft = [SftSpec(key=f"sft:{s.generation_id}", generation_id=s.generation_id,
                   messages=[*prompt.messages, {"role": "assistant", "content": s.text}],
                   score=s.judgement.score, meta=meta)
           for s in right[:k]]
    # Walk the (right, wrong) grid diagonal by diagonal, so the m pairs use as many different
    # samples as possible before any sample repeats.
    grid = [(c, w) for i, c in enumerate(right) for j, w in enumerate(wrong)]
    grid.sort(key=lambda cw: max(right.index(cw[0]), wrong.index(cw[1])))
    pairs = [PairSpec(key=f"pair:{c.generation_id}:{w.generation_id}",
                      chosen_generation_id=c.generation_id,
                      rejected_generation_id=w.generation_id, prompt=prompt.messages,
                      chosen=[{"role": "assistant", "content": c.text}],
                      rejected=[{"role": "assistant", "content": w.text}],
                      score=(c.judgement.score or 0) - (w.judgement.score or 0),
                      meta={**meta, **(pair_meta(c, w) if pair_meta else {})})
             for c, w in grid[:m]]
    flag = None
    if judged and rate == 1.0:
        flag = "too_easy"
    elif judged and rate == 0.0:
        flag = "too_hard"
    return Curation(sft=sft, pairs=pairs, flag=flag)
