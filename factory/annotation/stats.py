"""What the admin pages show: task progress, rankings per annotator, agreement, and the data
each strategy has produced."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from db.models import AnnotationTask, Annotator, Job, PreferencePair, Ranking, SftExample
from factory.annotation.consensus import Tiers, agreement


def task_progress(session: Session) -> list[dict[str, Any]]:
    judged = (select(Ranking.task_id, func.count().label("n"),
                     func.sum(case((Ranking.skipped, 1), else_=0)).label("skipped"))
              .group_by(Ranking.task_id).subquery())
    rows = session.execute(
        select(Job.id, Job.strategy, func.count(AnnotationTask.id),
               func.sum(case((AnnotationTask.status == "done", 1), else_=0)),
               func.coalesce(func.sum(judged.c.n), 0), func.coalesce(func.sum(judged.c.skipped), 0))
        .join(AnnotationTask, AnnotationTask.job_id == Job.id)
        .outerjoin(judged, judged.c.task_id == AnnotationTask.id)
        .group_by(Job.id, Job.strategy).order_by(Job.id))
    return [{"job": j, "strategy": s, "tasks": t, "done": d or 0, "open": t - (d or 0),
             "rankings": n, "skipped": sk} for j, s, t, d, n, sk in rows]


def per_annotator(session: Session) -> list[dict[str, Any]]:
    out = []
    for a in session.scalars(select(Annotator).order_by(Annotator.name)):
        js = session.scalars(select(Ranking).where(Ranking.annotator_id == a.id)).all()
        out.append({"annotator": a.name, "role": a.role, "rankings": len(js),
                    "skipped": sum(j.skipped for j in js), "all bad": sum(j.all_bad for j in js),
                    "with ties": sum(any(len(t) > 1 for t in j.tiers) for j in js)})
    return out


def inter_annotator_agreement(session: Session, job_id: int | None = None
                              ) -> tuple[float | None, int]:
    """Krippendorff's alpha over tasks judged by two or more people, and how many there are."""
    query = (select(Ranking.task_id, Ranking.annotator_id, Ranking.tiers)
             .join(AnnotationTask, AnnotationTask.id == Ranking.task_id)
             .where(Ranking.skipped.is_(False)))
    if job_id is not None:
        query = query.where(AnnotationTask.job_id == job_id)
    by_task: dict[int, list[tuple[int, Tiers]]] = defaultdict(list)
    for task_id, annotator_id, tiers in session.execute(query):
        by_task[task_id].append((annotator_id, tiers))
    shared = [t for t in by_task.values() if len(t) >= 2]
    return agreement(shared), len(shared)


def data_per_strategy(session: Session) -> list[dict[str, Any]]:
    """SFT lines and preference pairs per strategy, from people and from the pipeline."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"sft": 0, "pairs": 0})
    for table, field in ((SftExample, "sft"), (PreferencePair, "pairs")):
        source = case((table.key.startswith("human:"), "human"), else_="model")
        for strategy, src, n in session.execute(
                select(Job.strategy, source, func.count()).join(Job, Job.id == table.job_id)
                .group_by(Job.strategy, source)):
            counts[(strategy, src)][field] = n
    return [{"strategy": s, "source": src, **c} for (s, src), c in sorted(counts.items())]
