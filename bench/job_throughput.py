"""Whole-job throughput against a GPU-shaped server: the share of the server's full-batch
maximum that a multi-round math job keeps, next to a bare client firing every request at once.

Starts ``bench/gpu_server.py`` (continuous batching, 256 slots, 8 ms + 0.1 ms per running
sequence per decode step), then, one after the other against it:
- bare: one request per problem with a fixed ``n``, all sent at once, nothing stored;
- embedded: ``factory job run`` in-process (the math strategy with its default rounds) on
  SQLite, the whole job through the store.
Prints, per client: the share of the maximum (the server's own count), wall time, samples, SFT
lines and pairs. Slow on purpose: the server's clock is real time.

Usage: .venv/bin/python bench/job_throughput.py [--problems 1000] [--n 4] [--batch-size B]
       (FACTORY_EMBEDDED_PARALLEL_STEPS sets the embedded runner's steps in flight)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from db.migrate import upgrade  # noqa: E402
from db.models import Generation, Job  # noqa: E402
from db.session import sessionmaker_for  # noqa: E402
from factory import jobs  # noqa: E402
from factory.arithmetic import problems  # noqa: E402
from factory.config import Settings  # noqa: E402
from factory.prompts import render  # noqa: E402
from factory.runner import InProcess  # noqa: E402
from factory.seeds import SeedKind, import_seeds  # noqa: E402

MODEL = "sim"


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "gpu_server.py"), "--port",
                             str(port)])
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the simulated server did not start")


def stats(base: str, reset: bool = False) -> dict:
    return (httpx.post if reset else httpx.get)(f"{base}/stats{'/reset' if reset else ''}",
                                               timeout=10).json()


async def bare(url: str, questions: list[str], n: int) -> int:
    limits = httpx.Limits(max_connections=len(questions) + 8)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:
        async def one(i: int, q: str) -> int:
            body = {"model": MODEL, "n": n, "seed": i, "max_tokens": 512, "messages": [
                {"role": "user", "content": render("math/solve_v1", problem=q)}]}
            resp = await http.post("/chat/completions", json=body)
            return len(resp.json()["choices"])
        return sum(await asyncio.gather(*(one(i, q) for i, q in enumerate(questions))))


def embedded(url: str, questions: list[str], answers: list[str], params: dict
             ) -> tuple[int, int, int]:
    tmp = Path(tempfile.mkdtemp())
    db = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(db)
    sessions = sessionmaker_for(db)
    seeds = tmp / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"problem": q, "answer": a}) + "\n"
                             for q, a in zip(questions, answers, strict=True)))
    with sessions.begin() as s:
        seed_set, _ = import_seeds(s, seeds, SeedKind.math)
        job = jobs.create_job(s, "math", seed_set, params, MODEL)
        s.flush()
        steps = jobs.start(s, job)
        job_id = job.id
    InProcess(sessions, Settings(llm_base_url=url, llm_model=MODEL)).send(steps)
    with sessions() as s:
        samples = s.scalar(select(func.count()).select_from(Generation)
                           .where(Generation.job_id == job_id))
        p = jobs.progress(s, s.get_one(Job, job_id))
    return samples, p.sft, p.pairs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=1000)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--port", type=int, default=8100)
    ap.add_argument("--batch-size", type=int, default=None, help="default: the strategy's")
    args = ap.parse_args()
    params = {"batch_size": args.batch_size} if args.batch_size else {}
    chosen = list(islice(problems(11), args.problems))
    questions = [p.question for p in chosen]
    answers = [str(p.answer) for p in chosen]
    base = f"http://127.0.0.1:{args.port}"
    server = start_server(args.port)
    rows = []
    try:
        stats(base, reset=True)
        start = time.perf_counter()
        samples = asyncio.run(bare(base + "/v1", questions, args.n))
        rows.append((f"bare client, all at once, n={args.n}", stats(base),
                     time.perf_counter() - start, samples, "-", "-"))
        stats(base, reset=True)
        start = time.perf_counter()
        samples, sft, pairs = embedded(base + "/v1", questions, answers, params)
        rows.append(("factory, embedded (job run)", stats(base), time.perf_counter() - start,
                     samples, sft, pairs))
    finally:
        server.terminate()
        server.wait(10)
    print(f"{args.problems} problems; server maximum {rows[0][1]['max_tokens_per_s']:.0f} "
          "tokens/s")
    print(f"{'client':<36}{'share of max':>13}{'occupancy':>11}{'wall s':>8}{'samples':>9}"
          f"{'sft':>7}{'pairs':>7}")
    for name, st, wall, samples, sft, pairs in rows:
        print(f"{name:<36}{st['share_of_max']:>13.2f}{st['mean_occupancy']:>11.0f}"
              f"{wall:>8.1f}{samples:>9}{sft!s:>7}{pairs!s:>7}")


if __name__ == "__main__":
    main()
