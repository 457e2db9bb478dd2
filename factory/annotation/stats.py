"""What the admin pages show: task progress, rankings per annotator, agreement (overall and
per annotator), judgment times, position bias, and the data each strategy has produced."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from db.models import AnnotationTask, Annotator, Job, PreferencePair, Ranking, SftExample
from factory.annotation import quality
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


EVERYONE = "(everyone)"  # the position table's first row: all rankings together


@dataclass(frozen=True)
class QualityTables:
    agreement: list[dict[str, Any]]
    time: list[dict[str, Any]]
    position: list[dict[str, Any]]


def annotator_quality(session: Session) -> QualityTables:
    """Three tables, worst first, to find careless or adversarial annotators: agreement with
    the others' consensus, time per judgment, and position bias (everyone, then each)."""
    names = dict(session.execute(select(Annotator.id, Annotator.name)).all())
    rows = session.execute(select(Ranking.task_id, Ranking.annotator_id, Ranking.tiers,
                                  Ranking.shown_order, Ranking.seconds)
                           .where(Ranking.skipped.is_(False))
                           .order_by(Ranking.task_id, Ranking.id)).all()
    by_task: dict[int, list[tuple[int, Tiers]]] = defaultdict(list)
    shown: dict[int, list[tuple[Tiers, list[int]]]] = defaultdict(list)
    seconds: dict[int, list[float]] = defaultdict(list)
    for task_id, who, tiers, order, secs in rows:
        by_task[task_id].append((who, tiers))
        shown[who].append((tiers, order))
        if secs is not None:
            seconds[who].append(secs)
    agreed = quality.agreement_with_others(by_task.values())
    agreement_rows = sorted(
        ({"annotator": names[a], "shared tasks": g.tasks, "compared": g.compared,
          "agree": g.agree, "oppose": g.oppose, "tied": g.tied, "agreement": g.rate}
         for a, g in agreed.items()),
        key=lambda r: (r["agreement"] is None, r["agreement"] or 0.0, r["annotator"]))
    times = {a: quality.timing(s) for a, s in seconds.items()}
    time_rows = sorted(({"annotator": names[a], "timed": t.n, "median s": t.median,
                         "p25 s": t.p25, "p75 s": t.p75} for a, t in times.items() if t),
                       key=lambda r: (r["median s"], r["annotator"]))
    everyone = quality.position_bias(p for ps in shown.values() for p in ps)
    each = {a: quality.position_bias(ps) for a, ps in shown.items()}

    def bias_row(name: str, p: quality.Position) -> dict[str, Any]:
        return {"annotator": name, "first wins": p.first, "second wins": p.second,
                "tied": p.tied, "first share": p.first_share, "p (no bias)": p.p_value}

    position_rows = sorted(
        (bias_row(names[a], p) for a, p in each.items()),
        key=lambda r: (r["p (no bias)"] is None, r["p (no bias)"] or 0.0, r["annotator"]))
    if position_rows:  # no rankings: no table (the page says so), not a row of nothing
        position_rows.insert(0, bias_row(EVERYONE, everyone))
    return QualityTables(agreement_rows, time_rows, position_rows)


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
