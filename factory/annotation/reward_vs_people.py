"""The reward model's scores beside people's rankings of the same responses (a reward job's
samples made into ranking tasks), and how far the two agree.

People's order is the consensus one (:func:`factory.annotation.consensus.pairs`): the pairs
more rankings order one way than the other, the pairs that become human preference data. The
agreement is the share of those pairs whose preferred response the reward model scores higher
(:func:`factory.agreement.pairwise`); pairs with a response the reward model has not scored
(its verdict errored, or it was never scored) are counted apart, never guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AnnotationTask, Generation, Ranking, Verdict
from factory.agreement import Agreement, pairwise
from factory.annotation.consensus import Vote, pairs
from factory.strategies.reward import RewardScored


@dataclass(frozen=True)
class RankedTask:
    task_id: int
    prompt_id: int
    responses: list[int]  # generation ids
    votes: list[Vote]  # rankings that were not skipped


@dataclass(frozen=True)
class Comparison:
    rows: list[dict[str, Any]]  # one per response: people's place beside the reward model's
    agreement: Agreement  # over people's pairs with both responses scored
    unscored: int  # people's pairs left out: a response without a reward score
    tasks: int  # tasks ranked by at least one person
    per_task: dict[int, Agreement] = field(default_factory=dict)


def _places(values: Mapping[int, float], higher_first: bool) -> dict[int, int]:
    """1 for the best; equal values share a place."""
    sign = -1 if higher_first else 1
    return {k: 1 + sum(sign * w < sign * v for w in values.values()) for k, v in values.items()}


def compare(tasks: Sequence[RankedTask], scores: Mapping[int, float]) -> Comparison:
    """``scores``: the reward model's score per generation id (scored responses only)."""
    rows: list[dict[str, Any]] = []
    ordered: list[tuple[float, float]] = []
    per_task: dict[int, Agreement] = {}
    unscored = ranked = 0
    for task in tasks:
        if not task.votes:
            continue
        ranked += 1
        tiers: dict[int, list[int]] = defaultdict(list)
        for vote in task.votes:
            for place, tier in enumerate(vote.tiers, start=1):
                for gen in tier:
                    tiers[gen].append(place)
        mean = {g: sum(p) / len(p) for g, p in tiers.items()}
        human, reward = _places(mean, False), _places(
            {g: scores[g] for g in task.responses if g in scores}, True)
        for gen in sorted(task.responses, key=lambda g: (human.get(g, len(human) + 1), g)):
            rows.append({"task": task.task_id, "prompt": task.prompt_id, "response": gen,
                         "rankings": len(tiers.get(gen, [])), "mean human rank": mean.get(gen),
                         "human place": human.get(gen), "reward": scores.get(gen),
                         "reward place": reward.get(gen)})
        theirs = pairs(task.votes)
        mine = [(scores[p.chosen], scores[p.rejected]) for p in theirs
                if p.chosen in scores and p.rejected in scores]
        unscored += len(theirs) - len(mine)
        per_task[task.task_id] = pairwise(mine)
        ordered += mine
    return Comparison(rows, pairwise(ordered), unscored, ranked, per_task)


def reward_jobs(session: Session) -> list[int]:
    """Jobs whose ranking tasks hold responses the reward model scored."""
    return list(session.scalars(
        select(AnnotationTask.job_id).distinct()
        .join(Generation, Generation.prompt_id == AnnotationTask.prompt_id)
        .join(Verdict, Verdict.generation_id == Generation.id)
        .where(Verdict.verifier == RewardScored.verifier).order_by(AnnotationTask.job_id)))


def load(session: Session, job_id: int) -> tuple[list[RankedTask], dict[int, float]]:
    """A job's ranking tasks with their (unskipped) rankings, and its reward scores."""
    votes: dict[int, list[Vote]] = defaultdict(list)
    for task_id, tiers, all_bad in session.execute(
            select(Ranking.task_id, Ranking.tiers, Ranking.all_bad)
            .join(AnnotationTask, AnnotationTask.id == Ranking.task_id)
            .where(AnnotationTask.job_id == job_id, Ranking.skipped.is_(False))
            .order_by(Ranking.id)):
        votes[task_id].append(Vote(tiers=tiers, all_bad=all_bad))
    tasks = [RankedTask(t.id, t.prompt_id, list(t.generation_ids), votes.get(t.id, []))
             for t in session.scalars(select(AnnotationTask).where(AnnotationTask.job_id == job_id)
                                      .order_by(AnnotationTask.id))]
    scores = dict(session.execute(
        select(Verdict.generation_id, Verdict.score)
        .join(Generation, Generation.id == Verdict.generation_id)
        .where(Generation.job_id == job_id, Verdict.verifier == RewardScored.verifier,
               Verdict.status != "error", Verdict.score.is_not(None))).all())
    return tasks, scores


def reward_vs_people(session: Session, job_id: int) -> Comparison:
    return compare(*load(session, job_id))
