"""What operators watch, from the store: throughput over a recent window, and per strategy the
jobs, samples, acceptance rate and errors. Queue depths and workers come from the broker
(``workers.inspect``); the store is the source of truth for everything else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import Batch, Generation, Job, Verdict
from factory.strategies import registry


class Throughput(BaseModel):
    window_s: float
    samples: int
    completion_tokens: int

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.window_s

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.window_s


class StrategyHealth(BaseModel):
    strategy: str
    jobs: dict[str, int]  # by status
    samples: int
    verdicts: int  # passed or failed; errored and pending checks are not verdicts on quality
    passed: int
    check_errors: int
    recent: Throughput
    failed_batches: int
    last_error: str | None

    @property
    def acceptance(self) -> float | None:
        return self.passed / self.verdicts if self.verdicts else None


def throughput(session: Session, window_s: float, strategy: str | None = None) -> Throughput:
    since = utcnow() - timedelta(seconds=window_s)
    q = (select(func.count(), func.coalesce(func.sum(Generation.completion_tokens), 0))
         .select_from(Generation).where(Generation.created_at >= since))
    if strategy is not None:
        q = q.join(Job, Job.id == Generation.job_id).where(Job.strategy == strategy)
    samples, tokens = session.execute(q).one()
    return Throughput(window_s=window_s, samples=samples, completion_tokens=int(tokens))


def counted_samples() -> ColumnElement[bool]:
    """A generation that its job's strategy counts as a sample (Strategy.sample_asks)."""
    narrowed = [or_(Job.strategy != name, Generation.ask.in_(sorted(cls.sample_asks)))
                for name, cls in sorted(registry().items()) if cls.sample_asks is not None]
    return and_(true(), *narrowed)


def strategies(session: Session, window_s: float = 60) -> list[StrategyHealth]:
    jobs: dict[str, dict[str, int]] = {}
    for strategy, status, n in session.execute(
            select(Job.strategy, Job.status, func.count()).group_by(Job.strategy, Job.status)):
        jobs.setdefault(strategy, {})[status] = n
    sample = counted_samples()

    def tally(*statuses: str, only_samples: bool = True) -> Any:
        which = and_(sample, Verdict.status.in_(statuses)) if only_samples \
            else Verdict.status.in_(statuses)
        return func.coalesce(func.sum(case((which, 1), else_=0)), 0)

    # samples, verdicts and passed count a strategy's samples only (Strategy.sample_asks);
    # check errors count every generation's (a verification function's check failing too)
    counts: dict[str, Any] = {s: (n, v, p, e) for s, n, v, p, e in session.execute(
        select(Job.strategy, func.count(func.distinct(case((sample, Generation.id)))),
               tally("passed", "failed"), tally("passed"), tally("error", only_samples=False))
        .join(Generation, Generation.job_id == Job.id)
        .outerjoin(Verdict, Verdict.generation_id == Generation.id)
        .group_by(Job.strategy))}
    out = []
    for strategy in sorted(jobs):
        failed = session.scalar(select(func.count()).select_from(Batch).join(Job)
                                .where(Job.strategy == strategy, Batch.error.is_not(None))) or 0
        last = session.scalar(select(Job.error).where(Job.strategy == strategy,
                                                      Job.error.is_not(None))
                              .order_by(Job.updated_at.desc()).limit(1))
        samples, verdicts, passed, errors = counts.get(strategy, (0, 0, 0, 0))
        out.append(StrategyHealth(strategy=strategy, jobs=jobs[strategy], samples=samples,
                                  verdicts=int(verdicts), passed=int(passed),
                                  check_errors=int(errors),
                                  recent=throughput(session, window_s, strategy),
                                  failed_batches=failed, last_error=last))
    return out
