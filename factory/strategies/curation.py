"""Building blocks of curation that strategies share: distinct samples, SFT lines, and
preference pairs spread over as many different samples as possible."""

from __future__ import annotations

from typing import Any

from factory.strategies.base import JudgedSample, PairSpec, SftSpec


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


def sft_line(prompt: list[dict[str, str]], s: JudgedSample, meta: dict[str, Any]) -> SftSpec:
    """A sample as an SFT example: the prompt's messages, then the sample as the answer."""
    return SftSpec(key=f"sft:{s.generation_id}", generation_id=s.generation_id,
                   messages=[*prompt, {"role": "assistant", "content": s.text}],
                   score=s.verdict.score, meta=meta)


def pair_line(prompt: list[dict[str, str]], chosen: JudgedSample, rejected: JudgedSample,
              meta: dict[str, Any]) -> PairSpec:
    return PairSpec(key=f"pair:{chosen.generation_id}:{rejected.generation_id}",
                    chosen_generation_id=chosen.generation_id,
                    rejected_generation_id=rejected.generation_id, prompt=prompt,
                    chosen=[{"role": "assistant", "content": chosen.text}],
                    rejected=[{"role": "assistant", "content": rejected.text}],
                    score=(chosen.verdict.score or 0) - (rejected.verdict.score or 0),
                    meta=meta)


def spread_pairs(chosen: list[JudgedSample], rejected: list[JudgedSample], m: int
                 ) -> list[tuple[JudgedSample, JudgedSample]]:
    """Up to m (chosen, rejected) pairs, walking the grid diagonal by diagonal so the pairs use
    as many different samples as possible before any sample repeats."""
    grid = [(i, j) for i in range(len(chosen)) for j in range(len(rejected))]
    grid.sort(key=lambda ij: max(ij))
    return [(chosen[i], rejected[j]) for i, j in grid[:m]]


def best_passing(samples: list[JudgedSample], ask: str | None = None) -> list[JudgedSample]:
    """Distinct passing samples (answering ``ask``, if given), highest score first."""
    kept = [s for s in samples if s.verdict.passed and (ask is None or s.ask == ask)]
    return sorted(distinct(kept), key=lambda s: -(s.verdict.score or 0))
