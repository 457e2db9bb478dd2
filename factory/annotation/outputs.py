"""A task's rankings as data: preference pairs (better vs worse, ties dropped) and the
consensus best response as an SFT line, in the tables the export reads. Rebuilt whenever a
ranking of the task is added, changed or undone, so the data always matches the rankings."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import AnnotationTask, Generation, PreferencePair, Prompt, Ranking, SftExample
from factory.annotation.consensus import Vote, best, pairs


def _prefix(task: AnnotationTask) -> str:
    return f"human:{task.id}:"


def rebuild(session: Session, task: AnnotationTask) -> None:
    prefix = _prefix(task)
    for table in (PreferencePair, SftExample):
        session.execute(delete(table).where(table.job_id == task.job_id,
                                            table.key.startswith(prefix)))
    rankings = session.scalars(select(Ranking).where(Ranking.task_id == task.id,
                                                     Ranking.skipped.is_(False))).all()
    if not rankings:
        return
    votes = [Vote(tiers=r.tiers, all_bad=r.all_bad) for r in rankings]
    texts = dict(session.execute(select(Generation.id, Generation.text)
                                 .where(Generation.id.in_(task.generation_ids))).all())
    prompt = session.get_one(Prompt, task.prompt_id).messages
    # "judgments": the exported metadata key, kept as it was so exports stay alike
    meta = {"source": "human", "task": task.id, "judgments": len(rankings),
            "comments": [r.comment for r in rankings if r.comment]}
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
