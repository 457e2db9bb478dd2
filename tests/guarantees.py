"""What the factory guarantees about a finished job, whatever the model wrote.

The tiny model is trained anew on every machine and writes something different each time, so
end-to-end tests assert these invariants (every sample judged once, every failure with its
reason, counts that add up, curated rows only from passing samples) rather than what it wrote.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Generation, Job, PreferencePair, Prompt, SftExample, Verdict
from factory.jobs import strategy_for


@dataclass(frozen=True)
class Accounted:
    """A finished job's rows, checked against each other."""

    generations: list[Generation]
    verdicts: dict[int, Verdict]  # by generation id
    sft: list[SftExample]
    pairs: list[PreferencePair]


def assert_job_accounted(sessions: sessionmaker[Session], job_id: int) -> Accounted:
    with sessions() as s:
        job = s.get_one(Job, job_id)
        assert job.status == "done", (job.status, job.error)
        strategy = strategy_for(job)
        gens = list(s.scalars(select(Generation).where(Generation.job_id == job_id)))
        rows = s.scalars(select(Verdict).join(Generation).where(Generation.job_id == job_id))
        verdicts: dict[int, Verdict] = {}
        for v in rows:
            assert v.verifier == strategy.verifier, v.verifier
            assert v.generation_id not in verdicts, f"generation {v.generation_id} judged twice"
            verdicts[v.generation_id] = v
        prompts = list(s.scalars(select(Prompt).where(Prompt.job_id == job_id)))
        sft = list(s.scalars(select(SftExample).where(SftExample.job_id == job_id)))
        pairs = list(s.scalars(select(PreferencePair).where(PreferencePair.job_id == job_id)))
        s.expunge_all()
    assert gens, "a finished job has samples"
    # a prompt the server refused is set aside with the reason, its last round unjudged
    errored = {p.id for p in prompts if p.error is not None}
    assert all(p.error and p.flag == "error" for p in prompts if p.id in errored)
    judged = {g.id for g in gens if g.prompt_id not in errored}
    assert judged <= set(verdicts), "every sample has exactly one verdict"
    for g in gens:
        assert g.finish_reason and g.completion_tokens is not None and g.prompt_tokens, g.id
    # a prompt's figures count the samples its strategy counts (autoif: responses only)
    counted = [g for g in gens if strategy.counts_as_sample(g.ask)]
    per_prompt = Counter(g.prompt_id for g in counted)
    passed = Counter(g.prompt_id for g in counted if g.id in verdicts and verdicts[g.id].passed)
    for p in prompts:
        if p.id not in errored:
            assert (p.samples, p.passed) == (per_prompt[p.id], passed[p.id]), p.id
    for v in verdicts.values():
        if not v.passed:
            assert v.details, f"failed verdict {v.id} gives no reason"
    for row in sft:
        if row.generation_id is not None:
            assert verdicts[row.generation_id].passed, f"SFT {row.key} from a failed sample"
    for pair in pairs:
        if pair.chosen_generation_id is not None:
            assert verdicts[pair.chosen_generation_id].passed, f"pair {pair.key} chose a failure"
    return Accounted(gens, verdicts, sft, pairs)


def assert_judge_replies_accounted(acc: Accounted) -> None:
    """A model judge's reply either parsed (its verdict has no error) or is a failed verdict
    that keeps the reason and the raw reply."""
    for v in acc.verdicts.values():
        if "judge_model" not in v.details:
            continue  # decided by a text rule before any judge was asked: a reason is kept
        if "raw" in v.details:
            assert not v.passed and v.details["error"], v.details
        else:
            assert "error" not in v.details, v.details
