"""Jobs: a strategy + a seed set + parameters, planned into batches of prompts.

The database is the source of truth for progress: a batch's (stage, round) says what to do
next, so a job can be resumed after a crash or a cancel by sending its unfinished batches again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import (
    Batch,
    Generation,
    Job,
    PreferencePair,
    Prompt,
    SeedItem,
    SeedSet,
    SftExample,
    Verdict,
)
from factory.config import Settings
from factory.prompts import template_version
from factory.strategies import get_strategy
from factory.strategies.base import SeedRejected, Strategy, StrategyParams

QUEUES = ("generate", "verify", "sandbox")


class JobError(ValueError):
    """A job that cannot be created or changed; the message says why."""


@dataclass(frozen=True)
class Step:
    """One unit of work to send: run ``stage`` of ``batch_id`` in ``round``, on ``queue``."""

    stage: str
    batch_id: int
    round: int
    queue: str


def strategy_for(job: Job, settings: Settings | None = None) -> Strategy:
    cls = get_strategy(job.strategy)
    return cls(cls.Params.model_validate(job.params), settings)


def parse_params(strategy: str, params: dict[str, Any]) -> StrategyParams:
    cls = get_strategy(strategy)
    try:
        return cls.Params.model_validate(params)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        where = f", parameter {field!r}" if field else ""
        msg = err['msg'].removeprefix("Value error, ")
        raise JobError(f"strategy {strategy!r}{where}: {msg}") from exc


def create_job(session: Session, strategy: str, seed_set: SeedSet, params: dict[str, Any],
               model: str, name: str | None = None) -> Job:
    """Plan a job: validate parameters, render every prompt, group seed items into batches."""
    try:
        cls = get_strategy(strategy)
    except KeyError as exc:
        raise JobError(str(exc.args[0])) from exc
    if seed_set.kind != cls.seed_kind.value:
        raise JobError(f"strategy {strategy!r} reads {cls.seed_kind.value} seeds; "
                       f"seed set {seed_set.id} holds {seed_set.kind}")
    parsed = parse_params(strategy, params)
    job = Job(name=name or f"{strategy}-{seed_set.name}", strategy=strategy,
              seed_set_id=seed_set.id, params=parsed.model_dump(), model=model, status="created")
    session.add(job)
    session.flush()
    instance = cls(parsed)
    items = session.execute(select(SeedItem.id, SeedItem.ordinal, SeedItem.line_no,
                                   SeedItem.payload)
                            .where(SeedItem.seed_set_id == seed_set.id)
                            .order_by(SeedItem.ordinal)).yield_per(1000)
    batch: Batch | None = None
    prompts: list[dict[str, Any]] = []
    for item_id, ordinal, line_no, payload in items:
        if batch is None or ordinal > batch.first_ordinal + parsed.batch_size - 1:
            _insert(session, prompts)
            prompts = []
            batch = Batch(job_id=job.id, index=ordinal // parsed.batch_size,
                          first_ordinal=ordinal, last_ordinal=ordinal)
            session.add(batch)
            session.flush()
        batch.last_ordinal = ordinal
        try:
            specs = instance.build_prompts(payload)
        except SeedRejected as exc:
            raise JobError(f"{seed_set.source}:{line_no}: {exc}") from exc
        for spec in specs:
            prompts.append({"job_id": job.id, "batch_id": batch.id, "seed_item_id": item_id,
                            "prompt_key": spec.prompt_key, "template_id": spec.template_id,
                            "template_version": template_version(spec.template_id),
                            "messages": spec.messages, "reference": spec.reference})
    _insert(session, prompts)
    return job


def _insert(session: Session, prompts: list[dict[str, Any]]) -> None:
    if prompts:
        session.execute(insert(Prompt), prompts)


def step_of(batch_id: int, stage: str, round: int, strategy: str) -> Step:
    """The step a batch at (stage, round) waits for, on the queue its strategy runs it on."""
    queue = "generate" if stage == "generate" else get_strategy(strategy).judge_queue
    return Step(stage, batch_id, round, queue)


def pending_steps(session: Session, job: Job) -> list[Step]:
    """The next step of every unfinished batch."""
    query = select(Batch).where(Batch.job_id == job.id, Batch.stage != "done")
    return [step_of(b.id, b.stage, b.round, job.strategy)
            for b in session.scalars(query.order_by(Batch.index))]


def start(session: Session, job: Job, take_over: bool = False) -> list[Step]:
    """Mark a job running (from created, cancelled or failed) and return the steps to send;
    failed batches get their attempts back, and a job with nothing left to do is done (its
    last batch may have finished while it was cancelled or failed). ``take_over``: this
    process is the only runner (embedded), so leases left by one that was killed are void."""
    if job.status == "done":
        return []
    job.status, job.error = "running", None
    values: dict[str, Any] = {"error": None, "attempts": 0, "sent_at": utcnow()}
    if take_over:
        values.update(lease_owner=None, lease_until=None)
    session.execute(update(Batch).where(Batch.job_id == job.id).values(**values)
                    .execution_options(synchronize_session=False))
    steps = pending_steps(session, job)
    if not steps:
        job.status = "done"
    return steps


def retry_errored(session: Session, job: Job) -> int:
    """Send prompts that errored again: each batch holding some goes back to the earliest round
    one of them errored in; rounds already generated for the other prompts are not asked again
    (see :func:`factory.stages.generate`). Returns the number of prompts retried."""
    errored = session.execute(select(Prompt.batch_id, func.min(Prompt.error_round),
                                     func.count())
                              .where(Prompt.job_id == job.id, Prompt.error.is_not(None))
                              .group_by(Prompt.batch_id)).all()
    for batch_id, round_, _ in errored:
        session.execute(update(Batch).where(Batch.id == batch_id)
                        .values(stage="generate", round=round_ or 0, lease_owner=None,
                                lease_until=None)
                        .execution_options(synchronize_session=False))
    session.execute(update(Prompt).where(Prompt.job_id == job.id, Prompt.error.is_not(None))
                    .values(error=None, error_round=None, flag=None)
                    .execution_options(synchronize_session=False))
    if errored and job.status == "done":
        job.status = "created"
    return sum(n for _, _, n in errored)


def cancel(session: Session, job: Job) -> None:
    """Stop a job: queued steps become no-ops; finished batches stay finished."""
    if job.status in ("created", "running", "failed"):
        job.status = "cancelled"


@dataclass(frozen=True)
class Progress:
    batches: int
    batches_done: int
    prompts: int
    generations: int
    sft: int
    pairs: int
    errored_prompts: int
    check_errors: int  # samples whose check failed (not the sample): never paired or exported
    status: str
    error: str | None


def progress(session: Session, job: Job) -> Progress:
    def count(model: type, *where: Any) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    return Progress(
        batches=count(Batch, Batch.job_id == job.id),
        batches_done=count(Batch, Batch.job_id == job.id, Batch.stage == "done"),
        prompts=count(Prompt, Prompt.job_id == job.id),
        generations=count(Generation, Generation.job_id == job.id),
        sft=count(SftExample, SftExample.job_id == job.id),
        pairs=count(PreferencePair, PreferencePair.job_id == job.id),
        errored_prompts=count(Prompt, Prompt.job_id == job.id, Prompt.error.is_not(None)),
        check_errors=session.scalar(select(func.count()).select_from(Verdict).join(Generation)
                                    .where(Generation.job_id == job.id,
                                           Verdict.status == "error")) or 0,
        status=job.status, error=job.error,
    )


def errored_prompts(session: Session, job: Job, limit: int = 50) -> list[dict[str, Any]]:
    """The job's errored prompts (the first ``limit``): seed line, round and the reason."""
    rows = session.execute(select(Prompt.id, SeedItem.line_no, Prompt.error_round, Prompt.error)
                           .join(SeedItem, SeedItem.id == Prompt.seed_item_id)
                           .where(Prompt.job_id == job.id, Prompt.error.is_not(None))
                           .order_by(Prompt.id).limit(limit))
    return [{"prompt": pid, "seed_line": line, "round": round_, "error": error}
            for pid, line, round_, error in rows]


def queues_of(job: Job) -> list[str]:
    """The queues a job's steps are sent to."""
    return sorted({"generate", get_strategy(job.strategy).judge_queue})
