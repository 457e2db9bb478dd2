"""Small builders shared by tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Generation, Job, PreferencePair, Prompt, SeedItem, SftExample, Verdict
from factory.jobs import create_job
from factory.seeds import SeedKind, import_seeds

ROOT = Path(__file__).resolve().parent.parent


def arithmetic_seeds(path: Path, count: int) -> Path:
    lines = (ROOT / "factory" / "data" / "arithmetic.jsonl").read_text().splitlines()[:count]
    path.write_text("\n".join(lines) + "\n")
    return path


def make_job(sessions: sessionmaker[Session], tmp: Path, count: int = 20,
             model: str = "scripted-arithmetic", **params: Any) -> int:
    params.setdefault("batch_size", 5)
    with sessions.begin() as s:
        seed_set, _ = import_seeds(s, arithmetic_seeds(tmp / f"seeds{count}.jsonl", count),
                                   SeedKind.math)
        job = create_job(s, "math", seed_set, params, model)
        s.flush()
        return job.id


def snapshot(sessions: sessionmaker[Session], job_id: int) -> dict[str, list[Any]]:
    """The job's content, keyed by what it is (not by row ids), to compare runs and stores."""
    with sessions() as s:
        gens = s.execute(
            select(SeedItem.ordinal, Generation.sample_index, Generation.round, Generation.text,
                   Generation.seed, Verdict.passed)
            .join(Prompt, Prompt.id == Generation.prompt_id)
            .join(SeedItem, SeedItem.id == Prompt.seed_item_id)
            .outerjoin(Verdict, Verdict.generation_id == Generation.id)
            .where(Generation.job_id == job_id)).all()
        sft = s.scalars(select(SftExample.messages).where(SftExample.job_id == job_id)).all()
        pairs = s.execute(select(PreferencePair.prompt, PreferencePair.chosen,
                                 PreferencePair.rejected)
                          .where(PreferencePair.job_id == job_id)).all()
        stats = s.execute(select(SeedItem.ordinal, Prompt.samples, Prompt.passed, Prompt.flag)
                          .join(SeedItem).where(Prompt.job_id == job_id)).all()
        status = s.get_one(Job, job_id).status

    def canon(rows: Any) -> list[Any]:
        return sorted(json.dumps(list(r) if isinstance(r, tuple | list) else r, sort_keys=True,
                                 default=str) for r in rows)

    return {"generations": canon(tuple(g) for g in gens), "sft": canon(sft),
            "pairs": canon(tuple(p) for p in pairs), "stats": canon(tuple(x) for x in stats),
            "status": [status]}


def seed_job(sessions: sessionmaker[Session], path: Path, strategy: str, kind: SeedKind,
             records: list[dict[str, Any]], model: str = "scripted", **params: Any) -> int:
    """A job of ``strategy`` over ``records`` written as a JSONL seed file at ``path``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    with sessions.begin() as s:
        seed_set, _ = import_seeds(s, path, kind)
        job = create_job(s, strategy, seed_set, params, model)
        s.flush()
        return job.id


def run_in_process(sessions: sessionmaker[Session], job_id: int, llm: Any,
                   parallel: int | None = None) -> None:
    """Run a job here with ``llm`` (a scripted model) as the model for every step."""
    from factory.config import Settings
    from factory.jobs import start
    from factory.runner import InProcess

    runner = InProcess(sessions, Settings(llm_base_url="scripted://arithmetic"),
                       parallel=parallel)
    runner.llm_factory = lambda: llm
    with sessions.begin() as s:
        steps = start(s, s.get_one(Job, job_id))
    runner.send(steps)
