"""Curation shared by strategies whose verifier says pass or fail: keep up to k distinct
passing samples as SFT examples, pair passing against failing ones (at most m), and flag
prompts that always pass (too easy) or never do (too hard)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from factory.strategies.base import Curation, JudgedSample, PairSpec, PromptSpec, SftSpec


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
