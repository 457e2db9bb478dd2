"""A whole multi-round math job against the real vLLM-CPU server, next to a bare client.

Starts vLLM on the tiny model on a core of its own (bench/vllm_cpu.py), then alternates: a bare
client firing one request per problem (n=4) all at once, the factory's whole job embedded (the
math strategy's default rounds, SQLite), a bare client again. Prints output tokens/s of each and
the job's rate over the mean of the bare runs around it. The tiny model answers few problems
right, so its job runs more rounds than a real model's would.

Usage: .venv/bin/python bench/job_vllm.py [--problems 300] [--n 4] [--max-tokens 48]
       [--batch-size B] [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import vllm_cpu  # noqa: E402
from bench.job_runs import bare, embedded  # noqa: E402
from factory.arithmetic import problems  # noqa: E402

PORT = 8124


def bare_tokens(url: str, questions: list[str], n: int, max_tokens: int) -> int:
    return asyncio.run(bare(url, vllm_cpu.MODEL, questions, n, max_tokens,
                            temperature=0.7)).tokens


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=300)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=None, help="default: the strategy's")
    ap.add_argument("--no-pin", dest="pin", action="store_false")
    args = ap.parse_args()
    chosen = list(islice(problems(11), args.problems))
    questions, answers = [p.question for p in chosen], [str(p.answer) for p in chosen]
    url = vllm_cpu.start_pinned(PORT, args.pin)
    try:
        bare_tokens(url, questions[:16], args.n, args.max_tokens)  # warm-up
        rates = []
        for label in ("bare", "job", "bare"):
            start = time.perf_counter()
            if label == "bare":
                tokens = bare_tokens(url, questions, args.n, args.max_tokens)
                extra = ""
            else:
                params = {"max_tokens": args.max_tokens} | (
                    {"batch_size": args.batch_size} if args.batch_size else {})
                job = embedded(url, vllm_cpu.MODEL, questions, answers, params)
                tokens = job.tokens
                extra = f"  samples {job.samples}  sft {job.sft}  pairs {job.pairs}"
            wall = time.perf_counter() - start
            rates.append(tokens / wall)
            print(f"{label:5s} tokens {tokens:7d}  wall {wall:7.1f}s  {tokens / wall:8.1f} tok/s"
                  + extra, flush=True)
        print(f"{args.problems} problems: whole job / bare = "
              f"{rates[1] / ((rates[0] + rates[2]) / 2):.3f}")
    finally:
        vllm_cpu.stop(PORT)


if __name__ == "__main__":
    main()
