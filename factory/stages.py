"""The two stages every batch goes through, round after round: generate, then judge.

The judge stage runs where its strategy's checks can run (``Strategy.judge_queue``): the
``verify`` queue for checks in Python, ``sandbox`` for code, ``generate`` when the model judges.

Each stage reads the batch's state from the store, does its work outside any transaction (model
calls, checks), then writes its rows and moves the batch on in one transaction guarded by a
compare-and-set on (stage, round). So a stage that is re-run after a crash, or delivered twice,
neither duplicates nor loses rows, and only one delivery ever sends the next step.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.base import utcnow
from db.models import Batch, Generation, Job, PreferencePair, Prompt, SftExample, Verdict
from db.session import insert_ignore
from factory import leases
from factory.config import Settings
from factory.jobs import Step, strategy_for
from factory.llm import LLM, ChatResult, LLMResponseError, SamplingParams, request_seed
from factory.strategies.base import (
    Ask,
    JudgedSample,
    JudgeWork,
    PromptSpec,
    Sample,
    Strategy,
    VerdictSpec,
)

MAX_ROUNDS = 64
LEASE_S = 60.0
CHECK_ATTEMPTS = 3  # a check that errors (not the sample: the check) is run this often
CHECK_ERROR = "check_error"
T = TypeVar("T")


def _spec(p: Prompt) -> PromptSpec:
    return PromptSpec(prompt_key=p.prompt_key, template_id=p.template_id, messages=p.messages,
                      reference=p.reference)


def _judged(session: Session, batch_id: int, verifier: str) -> dict[int, list[JudgedSample]]:
    rows = session.execute(
        select(Generation.prompt_id, Generation.id, Generation.sample_index, Generation.text,
               Generation.ask, Generation.round, Verdict.passed, Verdict.score, Verdict.details,
               Verdict.status)
        .join(Prompt, Prompt.id == Generation.prompt_id)
        .join(Verdict, (Verdict.generation_id == Generation.id) & (Verdict.verifier == verifier))
        .where(Prompt.batch_id == batch_id).order_by(Generation.prompt_id, Generation.sample_index))
    out: dict[int, list[JudgedSample]] = defaultdict(list)
    for prompt_id, gen_id, idx, text, ask, round_, passed, score, details, status in rows:
        error = details.get(CHECK_ERROR, "check failed") if status == "error" else None
        verdict = VerdictSpec(passed=passed, score=score, details=details, error=error,
                              pending=status == "pending")
        out[prompt_id].append(JudgedSample(generation_id=gen_id, sample_index=idx, text=text,
                                           ask=ask, round=round_, verdict=verdict))
    return out


def _claim(session: Session, batch: Batch, stage: str, round: int,
           new_stage: str, new_round: int) -> bool:
    """Move the batch on only if nobody else did; False means this delivery was a duplicate.
    The lease and the failed attempts end with the step; the next step counts as sent now."""
    result = session.execute(
        update(Batch).where(Batch.id == batch.id, Batch.stage == stage, Batch.round == round)
        .values(stage=new_stage, round=new_round, error=None, attempts=0, lease_owner=None,
                lease_until=None, sent_at=utcnow())
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _load(session: Session, step: Step, owner: str, lease_s: float,
          settings: Settings | None) -> tuple[Batch, Strategy] | None:
    batch = session.get(Batch, step.batch_id)
    if batch is None or (batch.stage, batch.round) != (step.stage, step.round):
        return None  # stale or duplicate delivery: the batch has moved on
    job = session.get(Job, batch.job_id)
    if job is None or job.status != "running":
        return None  # cancelled (or not started): leave the batch where it is
    if not leases.acquire(session, step, owner, lease_s):
        return None  # another delivery of this step is working on it
    return batch, strategy_for(job, settings)


def generate(sessions: sessionmaker[Session], step: Step, llm_factory: Callable[[], LLM],
             owner: str, lease_s: float, settings: Settings | None = None) -> Step | None:
    """Ask the model for this round's samples; the client is made only if something is asked
    and is closed before the rows are written. A request the server refuses, or answers with
    something unusable, sets its prompt aside with the reason; the rest of the batch goes on."""
    with sessions.begin() as session:
        if (loaded := _load(session, step, owner, lease_s, settings)) is None:
            return None
        batch, strategy = loaded
        prompts = list(session.scalars(select(Prompt).where(Prompt.batch_id == batch.id,
                                                            Prompt.error.is_(None))
                                       .order_by(Prompt.id)))
        judged = _judged(session, batch.id, strategy.verifier)
        have = dict(session.execute(
            select(Generation.prompt_id, func.count()).join(Prompt)
            .where(Prompt.batch_id == batch.id).group_by(Generation.prompt_id)).all())
        # asks already answered in this round (a batch sent back to retry errored prompts)
        asked = set(session.execute(
            select(Generation.prompt_id, Generation.ask).join(Prompt)
            .where(Prompt.batch_id == batch.id, Generation.round == step.round)).all())
        asks: list[tuple[Prompt, Ask, list[dict[str, str]], SamplingParams]] = []
        for p in prompts:
            for ask in strategy.asks(_spec(p), step.round, judged.get(p.id, [])):
                if (p.id, ask.name) in asked:
                    continue
                messages = ask.messages or p.messages
                # the ask's name is part of the key: asks of one prompt differ even if their
                # messages do not (several sampling settings)
                key = f"{p.prompt_key}|{ask.name}" if ask.name else p.prompt_key
                seed = request_seed(strategy.params.seed, messages, key, step.round)
                asks.append((p, ask, messages, strategy.sampling(ask, seed)))
        session.expunge_all()

    with leases.held(sessions, step.batch_id, owner, lease_s):
        results = _with_model(llm_factory, lambda llm: asyncio.gather(
            *(_refused_or(llm.chat(messages, sp)) for _, _, messages, sp in asks))) \
            if asks else []

    rows: list[dict[str, Any]] = []
    errors: dict[int, str] = {}
    for (p, ask, _, sp), result in zip(asks, results, strict=True):
        if isinstance(result, LLMResponseError):
            errors.setdefault(p.id, f"{ask.name or 'sample'}: {result}")
            continue
        for s in result.samples:
            rows.append({
                "prompt_id": p.id, "job_id": p.job_id, "sample_index": have.get(p.id, 0),
                "round": step.round, "ask": ask.name, "text": s.text, "model": result.model,
                "sampling": sp.recorded(), "seed": sp.seed,
                "prompt_tokens": result.prompt_tokens, "completion_tokens": s.completion_tokens,
                "latency_s": result.latency_s, "finish_reason": s.finish_reason,
            })
            have[p.id] = have.get(p.id, 0) + 1
    with sessions.begin() as session:
        batch = session.get_one(Batch, step.batch_id)
        if not _claim(session, batch, "generate", step.round, "judge", step.round):
            return None
        insert_ignore(session, Generation, rows)
        for pid, reason in errors.items():
            session.execute(update(Prompt).where(Prompt.id == pid)
                            .values(error=reason[:2000], error_round=step.round, flag="error"))
    return Step("judge", step.batch_id, step.round, strategy.judge_queue)


async def _refused_or(call: Awaitable[ChatResult]) -> ChatResult | LLMResponseError:
    """The result, or the refusal of a request that cannot succeed however often it is sent
    (a server that is down still raises: that is the whole step's failure, to retry)."""
    try:
        return await call
    except LLMResponseError as exc:
        return exc


def _with_model(llm_factory: Callable[[], LLM], use: Callable[[LLM], Awaitable[T]]) -> T:
    """Run ``use`` with a fresh model client, closed whatever happens."""
    async def run() -> T:
        llm = llm_factory()
        try:
            return await use(llm)
        finally:
            await llm.aclose()

    return asyncio.run(run())


def judge(sessions: sessionmaker[Session], step: Step, llm_factory: Callable[[], LLM],
          owner: str, lease_s: float, settings: Settings | None = None) -> Step | None:
    """Judge this round's new samples (by code, or by the model for strategies judged by it),
    then send the next round or curate the batch. Prompts set aside with an error are neither
    asked again nor curated (`factory job retry` sends them again)."""
    with sessions.begin() as session:
        if (loaded := _load(session, step, owner, lease_s, settings)) is None:
            return None
        batch, strategy = loaded
        prompts = {p.id: p for p in session.scalars(select(Prompt)
                                                    .where(Prompt.batch_id == batch.id,
                                                           Prompt.error.is_(None)))}
        unjudged = session.execute(
            select(Generation.id, Generation.prompt_id, Generation.text, Generation.ask,
                   Generation.round)
            .join(Prompt, Prompt.id == Generation.prompt_id)
            .outerjoin(Verdict, (Verdict.generation_id == Generation.id)
                       & (Verdict.verifier == strategy.verifier))
            .where(Prompt.batch_id == batch.id, Prompt.error.is_(None), Verdict.id.is_(None))
            .order_by(Generation.id)).all()
        before = _judged(session, batch.id, strategy.verifier) \
            if strategy.judge_needs_model or strategy.judge_reads_history else {}
        session.expunge_all()

    by_prompt: dict[int, list[tuple[int, Sample]]] = defaultdict(list)
    for gen_id, prompt_id, text, ask, round_ in unjudged:
        by_prompt[prompt_id].append((gen_id, Sample(text=text, ask=ask, round=round_)))
    work: list[JudgeWork] = [(_spec(prompts[pid]), [c for _, c in gens], before.get(pid, []))
                             for pid, gens in by_prompt.items()]
    with leases.held(sessions, step.batch_id, owner, lease_s):
        found_verdicts = _verdicts(strategy, work, llm_factory)
    verdicts: list[dict[str, Any]] = []
    for gens, found in zip(by_prompt.values(), found_verdicts, strict=True):
        for (gen_id, _), j in zip(gens, found, strict=True):
            details = {**j.details, CHECK_ERROR: j.error} if j.error is not None else j.details
            verdicts.append({"generation_id": gen_id, "verifier": strategy.verifier,
                             "verifier_version": strategy.verifier_version,
                             "passed": j.passed and j.error is None, "status": j.status,
                             "score": j.score, "details": details})

    with sessions.begin() as session:
        insert_ignore(session, Verdict, verdicts)
        batch = session.get_one(Batch, step.batch_id)
        judged = _judged(session, batch.id, strategy.verifier)
        next_round = step.round + 1
        more = next_round < MAX_ROUNDS and any(
            strategy.asks(_spec(p), next_round, judged.get(pid, [])) for pid, p in prompts.items())
        if more:
            if not _claim(session, batch, "judge", step.round, "generate", next_round):
                return None
            return Step("generate", step.batch_id, next_round, "generate")
        if not _claim(session, batch, "judge", step.round, "done", step.round):
            return None
        _curate(session, strategy, prompts, judged)
        _finish_job_if_complete(session, batch.job_id)
    return None


def _verdicts(strategy: Strategy, work: list[JudgeWork], llm_factory: Callable[[], LLM]
           ) -> list[list[VerdictSpec]]:
    """Verdicts per prompt; a prompt with a check that errored is judged again, whole (a
    strategy may judge its samples together), up to ``CHECK_ATTEMPTS`` times in all (a later
    round of a strategy may rely on its verdicts); not for errors that are ``permanent``."""
    def run(items: list[JudgeWork]) -> list[list[VerdictSpec]]:
        if strategy.judge_needs_model:
            return _with_model(llm_factory, lambda llm: strategy.judge_with_model(llm, items))
        return [strategy.judge_after(spec, cands, prior) for spec, cands, prior in items]

    found_verdicts = run(work) if work else []
    for attempt in range(1, CHECK_ATTEMPTS):
        again = [i for i, found in enumerate(found_verdicts)
                 if any(j.error and not j.permanent for j in found)]
        if not again:
            break
        for i, found in zip(again, run([work[i] for i in again]), strict=True):
            for j in found:
                j.details["check_attempts"] = attempt + 1
            found_verdicts[i] = found
    return found_verdicts


def _curate(session: Session, strategy: Strategy, prompts: dict[int, Prompt],
            judged: dict[int, list[JudgedSample]]) -> None:
    sft: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    for pid, p in prompts.items():
        samples = judged.get(pid, [])
        # a sample whose check errored is neither right nor wrong: never paired or exported
        cur = strategy.curate(_spec(p), [s for s in samples if s.verdict.error is None])
        counted = [s for s in samples if strategy.counts_as_sample(s.ask)]
        passed = sum(s.verdict.passed for s in counted)
        session.execute(update(Prompt).where(Prompt.id == pid).values(
            samples=len(counted), passed=passed, flag=cur.flag,
            pass_rate=passed / len(counted) if counted else None))
        for s in cur.sft:
            sft.append({"job_id": p.job_id, "key": f"{pid}:{s.key}", "prompt_id": pid,
                        "generation_id": s.generation_id, "messages": s.messages,
                        "score": s.score, "meta": s.meta})
        for pr in cur.pairs:
            pairs.append({"job_id": p.job_id, "key": f"{pid}:{pr.key}", "prompt_id": pid,
                          "chosen_generation_id": pr.chosen_generation_id,
                          "rejected_generation_id": pr.rejected_generation_id,
                          "prompt": pr.prompt, "chosen": pr.chosen, "rejected": pr.rejected,
                          "score": pr.score, "meta": pr.meta})
    insert_ignore(session, SftExample, sft)
    insert_ignore(session, PreferencePair, pairs)


def _finish_job_if_complete(session: Session, job_id: int) -> None:
    """Mark the job done if this was its last open batch. The job's row is locked first: when
    the last two batches finish at once, under READ COMMITTED each would otherwise see the
    other's batch still open and neither would finish the job. The second waits for the first
    to commit, and its next statement sees both batches done."""
    # NO KEY UPDATE: this transaction's inserts hold KEY SHARE on the job row (foreign keys),
    # which a plain FOR UPDATE would wait on, deadlocking two batches finishing together.
    session.execute(select(Job.id).where(Job.id == job_id).with_for_update(key_share=True))
    open_batches = session.scalar(select(func.count()).select_from(Batch)
                                  .where(Batch.job_id == job_id, Batch.stage != "done"))
    if not open_batches:
        session.execute(update(Job).where(Job.id == job_id, Job.status == "running")
                        .values(status="done"))


def run_step(sessions: sessionmaker[Session], step: Step, llm_factory: Callable[[], LLM],
             lease_s: float = LEASE_S, settings: Settings | None = None) -> Step | None:
    """Run one step; ``llm_factory`` makes a model client, called only when one is needed;
    ``settings`` are the runner's, for what a strategy reaches itself (the reward server;
    the environment's when None). The step holds the batch's lease while it works, and gives
    it up if it fails."""
    stage = generate if step.stage == "generate" else judge
    owner = leases.new_owner()
    try:
        return stage(sessions, step, llm_factory, owner, lease_s, settings)
    except BaseException:
        leases.release_quietly(sessions, step.batch_id, owner)
        raise
