"""Whole-job throughput against a GPU-shaped server: the share of the server's full-batch
maximum that a multi-round math job keeps, next to a bare client firing every request at once.

Starts ``bench/gpu_server.py`` (continuous batching, 256 slots, 8 ms + 0.1 ms per running
sequence per decode step), then, one after the other against it:
- bare: one request per problem with a fixed ``n``, all sent at once, nothing stored;
- embedded: ``factory job run`` in-process (the math strategy with its default rounds) on
  SQLite, the whole job through the store;
- with ``--celery``, also on PostgreSQL and Redis: one ``factory worker`` with its defaults (all
  queues), then compose.yaml's workers (a generate worker and a verify worker, defaults); the
  server's count starts once Celery's control broadcast shows every queue the job needs
  consumed (the check ``factory job run`` makes).
Prints, per client: the share of the maximum (the server's own count), wall time, samples, SFT
lines and pairs. Slow on purpose: the server's clock is real time.

Usage: .venv/bin/python bench/job_throughput.py [--problems 1000] [--n 4] [--batch-size B]
       [--celery] (FACTORY_STEPS_IN_FLIGHT sets the steps in flight of one process)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.job_runs import Outcome, bare, make_job, outcome  # noqa: E402
from bench.job_runs import embedded as embedded_run  # noqa: E402
from db.models import Job  # noqa: E402
from db.session import sessionmaker_for  # noqa: E402
from factory import jobs  # noqa: E402
from factory.arithmetic import problems  # noqa: E402

MODEL = "sim"
FACTORY = str(Path(sys.executable).parent / "factory")
PG_ADMIN = os.environ.get("FACTORY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("FACTORY_BENCH_REDIS", "redis://127.0.0.1:6379/6")
# compose.yaml's worker commands, as `factory worker` arguments
LAYOUTS = {"one `factory worker`, defaults": [["--queues", "generate,verify,sandbox"]],
           "compose's workers, defaults": [["--queues", "generate"],
                                           ["--queues", "verify", "--concurrency", "2"]]}


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


def embedded(url: str, questions: list[str], answers: list[str], params: dict) -> Outcome:
    """The whole job in-process on SQLite against the simulated server."""
    return embedded_run(url, MODEL, questions, answers, params)


def fresh_pg() -> str:
    import psycopg

    name = f"factory_bench_{os.getpid()}_{time.time_ns() % 10**9}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + \
        f"/{name}"


def celery(url: str, questions: list[str], answers: list[str], params: dict,
           layout: list[list[str]], base: str) -> tuple[float, int, int, int]:
    """The job on real workers (PostgreSQL, Redis); the server's count starts once they are up."""
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    db = fresh_pg()
    job_id = make_job(db, MODEL, questions, answers, params)
    with sessionmaker_for(db)() as session:
        needed = jobs.queues_of(session.get_one(Job, job_id))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("FACTORY_")},
           "FACTORY_DATABASE_URL": db, "FACTORY_BROKER_URL": REDIS,
           "FACTORY_LLM_BASE_URL": url, "FACTORY_LLM_MODEL": MODEL}
    for key in ("FACTORY_STEPS_IN_FLIGHT",):
        if key in os.environ:
            env[key] = os.environ[key]
    workers = [subprocess.Popen([FACTORY, "worker", *args, "--loglevel", "warning"], env=env,
                                start_new_session=True) for args in layout]
    try:
        wait_for_consumers(needed)
        stats(base, reset=True)
        start = time.perf_counter()
        ran = subprocess.run([FACTORY, "job", "run", str(job_id)], env=env,
                             capture_output=True, text=True)
        wall = time.perf_counter() - start
        if ran.returncode != 0:
            raise SystemExit(f"the job failed on Celery: {ran.stdout}{ran.stderr}")
    finally:
        for w in workers:
            os.killpg(w.pid, 15)
        for w in workers:
            w.wait(60)
    o = outcome(db, job_id)
    return wall, o.samples, o.sft, o.pairs


def wait_for_consumers(queues: list[str], seconds: float = 120) -> None:
    """Until a live worker consumes each of ``queues`` (the factory's own check, Celery's
    control broadcast), so the server's count starts with the workers up, not on a guess."""
    from workers.inspect import missing_consumers

    deadline = time.monotonic() + seconds
    while missing := missing_consumers(queues, timeout_s=1.0, broker_url=REDIS):
        if time.monotonic() > deadline:
            raise SystemExit(f"no worker consumes {', '.join(missing)} after {seconds:.0f} s")
        time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=1000)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--port", type=int, default=8100)
    ap.add_argument("--batch-size", type=int, default=None, help="default: the strategy's")
    ap.add_argument("--celery", action="store_true", help="also on Celery workers")
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
        sent = asyncio.run(bare(base + "/v1", MODEL, questions, args.n, timeout=600))
        rows.append((f"bare client, all at once, n={args.n}", stats(base),
                     time.perf_counter() - start, sent.samples, "-", "-"))
        stats(base, reset=True)
        start = time.perf_counter()
        job = embedded(base + "/v1", questions, answers, params)
        rows.append(("factory, embedded (job run)", stats(base), time.perf_counter() - start,
                     job.samples, job.sft, job.pairs))
        for name, layout in (LAYOUTS.items() if args.celery else []):
            wall, samples, sft, pairs = celery(base + "/v1", questions, answers, params,
                                               layout, base)
            rows.append((f"factory, Celery: {name}", stats(base), wall, samples, sft, pairs))
    finally:
        server.terminate()
        server.wait(10)
    print(f"{args.problems} problems; server maximum {rows[0][1]['max_tokens_per_s']:.0f} "
          "tokens/s")
    print(f"{'client':<50}{'share of max':>13}{'occupancy':>11}{'wall s':>8}{'samples':>9}"
          f"{'sft':>7}{'pairs':>7}")
    for name, st, wall, samples, sft, pairs in rows:
        print(f"{name:<50}{st['share_of_max']:>13.2f}{st['mean_occupancy']:>11.0f}"
              f"{wall:>8.1f}{samples:>9}{sft!s:>7}{pairs!s:>7}")


if __name__ == "__main__":
    main()
