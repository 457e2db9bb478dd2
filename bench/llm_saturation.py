"""LLM saturation: the factory's generation throughput against a bare asyncio client.

Same server, same prompts, same seeds, same concurrency. The bare client only fires requests
and counts tokens; the factory goes through its client, the job machinery and the store.
Prints output tokens/s of each and their ratio (target >= 0.95). Alternates bare and factory
runs and compares each factory run with the mean of the bare runs around it, to cancel drift
on a shared box.

Usage: .venv/bin/python bench/llm_saturation.py [--url URL] [--prompts 256] [--n 4]
       [--repeats 3] [--no-pin]
       (without --url it starts vLLM on the tiny model, on a core of its own, and stops it
       afterwards; the clients run on the other cores)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench import vllm_cpu  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Generation, Job  # noqa: E402
from db.session import sessionmaker_for  # noqa: E402
from factory import jobs  # noqa: E402
from factory.arithmetic import problems  # noqa: E402
from factory.config import Settings  # noqa: E402
from factory.llm import connect, request_seed  # noqa: E402
from factory.runner import InProcess  # noqa: E402
from factory.seeds import SeedKind, import_seeds  # noqa: E402
from factory.stages import generate  # noqa: E402
from factory.strategies.math_rejection import MathParams, MathRejectionSampling  # noqa: E402

MODEL = "tiny-qwen2"


def workload(count: int) -> list[str]:
    return [p.question for p in islice(problems(7), count)]


async def bare(url: str, questions: list[str], n: int, conc: int, max_tokens: int) -> int:
    strategy = MathRejectionSampling(MathParams(max_tokens=max_tokens))
    sem = asyncio.Semaphore(conc)
    async with httpx.AsyncClient(base_url=url, timeout=600,
                                 limits=httpx.Limits(max_connections=conc)) as client:
        async def one(q: str) -> int:
            (spec,) = strategy.build_prompts({"problem": q, "answer": "0"})
            body = {"model": MODEL, "messages": spec.messages, "n": n, "temperature": 0.7,
                    "top_p": 1.0, "max_tokens": max_tokens,
                    "seed": request_seed(0, spec.messages, "", 0)}
            async with sem:
                r = await client.post("/chat/completions", json=body)
            r.raise_for_status()
            return r.json()["usage"]["completion_tokens"]

        return sum(await asyncio.gather(*(one(q) for q in questions)))


def factory_run(url: str, questions: list[str], n: int, conc: int, max_tokens: int
                ) -> tuple[int, float, float]:
    tmp = Path(tempfile.mkdtemp())
    db = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(db)
    sessions = sessionmaker_for(db)
    seeds = tmp / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"problem": q, "answer": "0"}) + "\n"
                             for q in questions))
    params = {"batch_size": len(questions), "first_round": n, "max_samples": n,
              "max_tokens": max_tokens}
    with sessions.begin() as s:
        seed_set, _ = import_seeds(s, seeds, SeedKind.math)
        job = jobs.create_job(s, "math", seed_set, params, MODEL)
        s.flush()
        steps = jobs.start(s, job)
    settings = Settings(llm_base_url=url, llm_model=MODEL, llm_concurrency=conc)
    runner = InProcess(sessions, settings)
    start = time.perf_counter()
    nxt = generate(sessions, steps[0], lambda: connect(settings))  # client + store
    gen_wall = time.perf_counter() - start
    runner.send([nxt])                                          # verify + curate
    job_wall = time.perf_counter() - start
    with sessions() as s:
        tokens = s.scalar(select(func.sum(Generation.completion_tokens)))
        assert s.get_one(Job, job.id).status == "done"
    return tokens, gen_wall, job_wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url")
    ap.add_argument("--prompts", type=int, default=256)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not put the server and the clients on separate cores")
    args = ap.parse_args()
    url, port = args.url, None
    if url is None:
        port = 8123
        url = vllm_cpu.start_pinned(port, args.pin)
    try:
        qs = workload(args.prompts)
        asyncio.run(bare(url, qs[:16], args.n, args.concurrency, args.max_tokens))  # warm-up
        figures = []
        for label in ["bare", "factory"] * args.repeats + ["bare"]:
            if label == "bare":
                start = time.perf_counter()
                tokens = asyncio.run(bare(url, qs, args.n, args.concurrency, args.max_tokens))
                wall = time.perf_counter() - start
                figures.append((label, tokens, wall, wall))
            else:
                tokens, wall, job_wall = factory_run(url, qs, args.n, args.concurrency,
                                                     args.max_tokens)
                figures.append((label, tokens, wall, job_wall))
            f = figures[-1]
            print(f"{label:8s} tokens {f[1]:7d}  wall {f[2]:7.2f}s  {f[1] / f[2]:8.1f} tok/s"
                  + (f"  (whole job incl. verify {f[3]:.2f}s)" if label == "factory" else ""))
        # each factory run against the mean of the bare runs just before and after it
        ratios = []
        for k in range(1, len(figures), 2):
            before, fac, after = figures[k - 1], figures[k], figures[k + 1]
            bare_rate = (before[1] / before[2] + after[1] / after[2]) / 2
            ratios.append(fac[1] / fac[2] / bare_rate)
        print(f"prompts {args.prompts} x n={args.n}, concurrency {args.concurrency}: "
              f"factory/bare = {', '.join(f'{r:.3f}' for r in ratios)} "
              f"(median {statistics.median(ratios):.3f})")
    finally:
        if port is not None:
            vllm_cpu.stop(port)


if __name__ == "__main__":
    main()
