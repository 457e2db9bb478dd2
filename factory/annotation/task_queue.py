"""Ranking tasks: made from a job's samples, handed out, judged, undone.

A task is one prompt with 2 to K distinct responses, judged by k distinct annotators. Handing
out is a claim: on PostgreSQL the task row is locked (``FOR UPDATE SKIP LOCKED``) while its
rankings and live claims are counted, so annotators working at once never take a task past
k; a task locked by someone else is waited for, not taken for gone. On SQLite, claims, rankings
and undo take the database's write lock first (``BEGIN IMMEDIATE``), so the same holds there.
A claim whose task others filled meanwhile is dropped. A claim goes stale after
``claim_minutes`` and stops counting, so an abandoned task returns to the queue. Skips do not
count toward k; nobody gets a task they judged or skipped again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import AnnotationClaim, AnnotationTask, Generation, Job, Prompt, Ranking
from db.session import write_lock
from factory.annotation import outputs
from factory.annotation.consensus import Tiers

LOCK_RETRIES = 100
LOCK_WAIT_S = 0.02


class TaskError(ValueError):
    """A task or ranking that cannot be made; the message says why."""


@dataclass(frozen=True)
class Shown:
    """A task as one annotator sees it: responses in the order shown to them."""

    task: AnnotationTask
    prompt: list[dict[str, str]]
    responses: list[tuple[int, str]]  # (generation id, text), in shown order


def create_tasks(session: Session, job_id: int, k: int, max_responses: int = 4,
                 ask: str | None = None) -> tuple[int, int]:
    """Tasks for every prompt of a job with at least two distinct samples (answering ``ask``,
    if given); returns (made, prompts left out). Prompts that have a task already are kept."""
    if session.get(Job, job_id) is None:
        raise TaskError(f"no job {job_id}")
    if k < 1 or max_responses < 2:
        raise TaskError("k must be at least 1 and max_responses at least 2")
    query = (select(Generation.prompt_id, Generation.id, Generation.text)
             .where(Generation.job_id == job_id)
             .order_by(Generation.prompt_id, Generation.round, Generation.sample_index))
    if ask is not None:
        query = query.where(Generation.ask == ask)
    chosen: dict[int, list[int]] = {}
    seen: dict[int, set[str]] = {}
    for prompt_id, gen_id, text in session.execute(query):
        norm = " ".join(text.split())
        ids, texts = chosen.setdefault(prompt_id, []), seen.setdefault(prompt_id, set())
        if norm and norm not in texts and len(ids) < max_responses:
            ids.append(gen_id)
            texts.add(norm)
    have = set(session.scalars(select(AnnotationTask.prompt_id)
                               .where(AnnotationTask.job_id == job_id)))
    made = left_out = 0
    for prompt_id, ids in chosen.items():
        if len(ids) < 2:
            left_out += 1
        elif prompt_id not in have:
            session.add(AnnotationTask(job_id=job_id, prompt_id=prompt_id, generation_ids=ids,
                                       rankings_wanted=k))
            made += 1
    return made, left_out


def _available(annotator_id: int, stale: datetime) -> list[Any]:
    """Conditions of a task this annotator may take: open, not judged or skipped by them,
    and under k counting rankings and others' live claims."""
    task_id = AnnotationTask.id
    judged = (select(func.count()).select_from(Ranking)
              .where(Ranking.task_id == task_id, Ranking.skipped.is_(False)).scalar_subquery())
    claimed = (select(func.count()).select_from(AnnotationClaim)
               .where(AnnotationClaim.task_id == task_id, AnnotationClaim.claimed_at > stale,
                      AnnotationClaim.annotator_id != annotator_id).scalar_subquery())
    mine = select(Ranking.task_id).where(Ranking.annotator_id == annotator_id)
    return [AnnotationTask.status == "open", task_id.not_in(mine),
            judged + claimed < AnnotationTask.rankings_wanted]


def next_task(session: Session, annotator_id: int, claim_minutes: float = 30) -> Shown | None:
    """The annotator's task: the one they hold, else a new claim on the first open task they
    have not judged whose rankings and live claims are under k."""
    write_lock(session)
    stale = utcnow() - timedelta(minutes=claim_minutes)
    available = _available(annotator_id, stale)
    held = session.scalar(select(AnnotationClaim)
                          .where(AnnotationClaim.annotator_id == annotator_id)
                          .order_by(AnnotationClaim.claimed_at.desc()).limit(1))
    if held is not None:
        # kept while the task has room for this annotator's ranking; a claim that lapsed and
        # was taken over, or whose task others filled, is dropped
        if session.scalar(select(exists().where(AnnotationTask.id == held.task_id,
                                                *available))):
            held.claimed_at = utcnow()
            return show(session, session.get_one(AnnotationTask, held.task_id), annotator_id)
        session.delete(held)
        session.flush()
    for _ in range(LOCK_RETRIES):
        task = session.scalar(select(AnnotationTask).where(*available)
                              .order_by(AnnotationTask.id).limit(1)
                              .with_for_update(skip_locked=True))
        if task is not None:
            break
        # Nothing unlocked; if a task is only locked by someone taking or judging it right
        # now, wait for them to commit and look again rather than say "nothing left".
        if session.scalar(select(exists().where(*available))) is not True:
            return None
        time.sleep(LOCK_WAIT_S)
    else:
        return None
    session.execute(delete(AnnotationClaim).where(AnnotationClaim.task_id == task.id,
                                                  AnnotationClaim.claimed_at <= stale))
    session.add(AnnotationClaim(task_id=task.id, annotator_id=annotator_id))
    session.flush()
    return show(session, task, annotator_id)


def shown_order(task: AnnotationTask, annotator_id: int) -> list[int]:
    """The task's responses in this annotator's order: random, but the same on every visit."""
    order = list(task.generation_ids)
    random.Random(f"{task.id}:{annotator_id}").shuffle(order)
    return order


def show(session: Session, task: AnnotationTask, annotator_id: int) -> Shown:
    order = shown_order(task, annotator_id)
    texts = dict(session.execute(select(Generation.id, Generation.text)
                                 .where(Generation.id.in_(order))).all())
    prompt = session.get_one(Prompt, task.prompt_id)
    return Shown(task, prompt.messages, [(g, texts[g]) for g in order])


def submit(session: Session, annotator_id: int, task_id: int, tiers: Tiers, *,
           shown: Sequence[int], all_bad: bool = False, skipped: bool = False,
           comment: str | None = None) -> Ranking:
    """Record (or replace) the annotator's ranking of a task and update what it yields.

    ``shown`` is the order of the responses on the annotator's screen. A ranking is taken only
    for the task on their screen: the one they hold a claim on, or the one they ranked last
    (an edit), in the order it is shown to them; anything else (a key pressed twice, the
    second press landing on a task not drawn yet) is refused."""
    write_lock(session)
    task = session.get(AnnotationTask, task_id, with_for_update=True)
    if task is None:
        raise TaskError(f"no task {task_id}")
    last = last_ranking(session, annotator_id)
    claim = session.scalar(select(AnnotationClaim).where(
        AnnotationClaim.task_id == task_id, AnnotationClaim.annotator_id == annotator_id))
    if claim is None and (last is None or last.task_id != task_id):
        raise TaskError(f"task {task_id} is not the one on your screen; nothing saved")
    if list(shown) != shown_order(task, annotator_id):
        raise TaskError(f"task {task_id} was not shown to you in that order; nothing saved")
    if not skipped:
        ranked = [g for tier in tiers for g in tier]
        if sorted(ranked) != sorted(task.generation_ids) or any(not t for t in tiers):
            raise TaskError(f"a ranking of task {task_id} orders each of its responses once")
    ranking = session.scalar(select(Ranking).where(Ranking.task_id == task_id,
                                                   Ranking.annotator_id == annotator_id))
    if ranking is None:
        if not skipped and _judged(session, task) >= task.rankings_wanted:
            raise TaskError(f"task {task_id} has its {task.rankings_wanted} rankings already")
        ranking = Ranking(task_id=task_id, annotator_id=annotator_id,
                          seconds=_since(claim.shown_at) if claim else None)
        session.add(ranking)
    ranking.shown_order = shown_order(task, annotator_id)
    ranking.tiers = [] if skipped else tiers
    ranking.all_bad, ranking.skipped = all_bad and not skipped, skipped
    ranking.comment = (comment or "").strip()[:2000] or None
    session.execute(delete(AnnotationClaim).where(AnnotationClaim.task_id == task_id,
                                                  AnnotationClaim.annotator_id == annotator_id))
    session.flush()
    _settle(session, task)
    return ranking


def _since(moment: datetime) -> float:
    """Seconds from ``moment`` to now (SQLite hands back naive datetimes: they are UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return max(0.0, (utcnow() - aware).total_seconds())


def last_ranking(session: Session, annotator_id: int) -> Ranking | None:
    return session.scalar(select(Ranking).where(Ranking.annotator_id == annotator_id)
                          .order_by(func.coalesce(Ranking.updated_at, Ranking.created_at)
                                    .desc(), Ranking.id.desc()).limit(1))


def undo_last(session: Session, annotator_id: int) -> int | None:
    """Take back the annotator's latest ranking; its task is theirs again, shown next."""
    write_lock(session)
    ranking = last_ranking(session, annotator_id)
    if ranking is None:
        return None
    task = session.get_one(AnnotationTask, ranking.task_id, with_for_update=True)
    session.delete(ranking)
    session.execute(delete(AnnotationClaim).where(AnnotationClaim.annotator_id == annotator_id))
    session.add(AnnotationClaim(task_id=task.id, annotator_id=annotator_id))
    session.flush()
    _settle(session, task)
    return task.id


def edit_last(session: Session, annotator_id: int) -> Shown | None:
    """The annotator's latest judged task, to judge again (submit replaces the ranking)."""
    ranking = last_ranking(session, annotator_id)
    if ranking is None:
        return None
    return show(session, session.get_one(AnnotationTask, ranking.task_id), annotator_id)


def _judged(session: Session, task: AnnotationTask) -> int:
    return session.scalar(select(func.count()).select_from(Ranking).where(
        Ranking.task_id == task.id, Ranking.skipped.is_(False))) or 0


def _settle(session: Session, task: AnnotationTask) -> None:
    task.status = "done" if _judged(session, task) >= task.rankings_wanted else "open"
    outputs.rebuild(session, task)


def progress(session: Session, annotator_id: int, claim_minutes: float = 30) -> tuple[int, int]:
    """(tasks this annotator judged or skipped, open tasks still available to them)."""
    done = session.scalar(select(func.count()).select_from(Ranking)
                          .where(Ranking.annotator_id == annotator_id)) or 0
    stale = utcnow() - timedelta(minutes=claim_minutes)
    left = session.scalar(select(func.count()).select_from(AnnotationTask)
                          .where(*_available(annotator_id, stale))) or 0
    return done, left
