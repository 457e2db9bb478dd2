"""A task's judgments as data: preference pairs (better vs worse, ties dropped) and the
consensus best response as an SFT line, in the tables the export reads. Rebuilt whenever a
judgment of the task is added, changed or undone, so the data always matches the judgments."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import AnnotationTask, Generation, Judgment, PreferencePair, Prompt, SftExample
from factory.annotation.consensus import Vote, best, pairs


def _prefix(task: AnnotationTask) -> str:
    return f"human:{task.id}:"


def rebuild(session: Session, task: AnnotationTask) -> None:
    prefix = _prefix(task)
    for table in (PreferencePair, SftExample):
        session.execute(delete(table).where(table.job_id == task.job_id,
                                            table.key.startswith(prefix)))
    judgments = session.scalars(select(Judgment).where(Judgment.task_id == task.id,
                                                       Judgment.skipped.is_(False))).all()
    if not judgments:
        return
    votes = [Vote(ranking=j.ranking, all_bad=j.all_bad) for j in judgments]
    texts = dict(session.execute(select(Generation.id, Generation.text)
                                 .where(Generation.id.in_(task.generation_ids))).all())
    prompt = session.get_one(Prompt, task.prompt_id).messages
    meta = {"source": "human", "task": task.id, "judgments": len(judgments),
            "comments": [j.comment for j in judgments if j.comment]}
    for p in pairs(votes):
        session.add(PreferencePair(
            job_id=task.job_id, key=f"{prefix}{p.chosen}:{p.rejected}", prompt_id=task.prompt_id,
            chosen_generation_id=p.chosen, rejected_generation_id=p.rejected, prompt=prompt,
            chosen=[{"role": "assistant", "content": texts[p.chosen]}],
            rejected=[{"role": "assistant", "content": texts[p.rejected]}],
            score=(p.wins - p.losses) / p.votes, meta={**meta, "wins": p.wins,
                                                       "losses": p.losses}))
    top = best(votes)
    if top is not None:
        session.add(SftExample(
            job_id=task.job_id, key=f"{prefix}best", prompt_id=task.prompt_id,
            generation_id=top, messages=[*prompt, {"role": "assistant", "content": texts[top]}],
            score=None, meta=meta))
    session.flush()
