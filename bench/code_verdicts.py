"""Code verdicts: seconds per HumanEval solution through one warm sandbox pool.

The first N canonical solutions of HumanEval are judged by the code strategy
(``run_suites``: one warm pool, the samples spread over its containers, several per exec),
as a prompt's samples are; printed: total wall time, per solution, and how many passed.

Usage: .venv/bin/python bench/code_verdicts.py [--problems 20] [--repeat 3] [--pool 2]
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factory.seeds import SeedKind, read_seeds  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "factory" / "data" / "HumanEval.jsonl.gz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pool", type=int, default=2)
    args = ap.parse_args()
    os.environ["FACTORY_SANDBOX_POOL_SIZE"] = str(args.pool)
    from factory.sandbox_service import close_sandbox_pool, sandbox_pool
    from factory.strategies.code_execution import CodeExecutionFeedback, CodeParams

    seeds = [s for _, s in read_seeds(DATA, SeedKind.code)][: args.problems]
    strategy = CodeExecutionFeedback(CodeParams(timeout_s=10))
    with_context = "context" in inspect.signature(strategy.run_suites).parameters
    sandbox_pool()  # containers started before the clock
    walls = []
    try:
        for _ in range(args.repeat):
            start = time.perf_counter()
            passed = 0
            for seed in seeds:  # one problem at a time; its samples: here one solution
                case = [(seed["prompt"] + seed["canonical_solution"], seed["test"])]
                kw = {"context": seed["prompt"]} if with_context else {}
                passed += strategy.run_suites(case, seed["entry_point"], **kw)[0][0]
            walls.append(time.perf_counter() - start)
        batch_walls = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            ok = 0
            for seed in seeds:
                case = [(seed["prompt"] + seed["canonical_solution"], seed["test"])] * 8
                kw = {"context": seed["prompt"]} if with_context else {}
                ok += sum(r[0] for r in strategy.run_suites(case, seed["entry_point"], **kw))
            batch_walls.append(time.perf_counter() - start)
    finally:
        close_sandbox_pool()
    n = len(seeds)
    print(f"{n} solutions, one per call: {statistics.median(walls):.2f} s "
          f"(median of {args.repeat}), {statistics.median(walls) / n * 1000:.0f} ms per solution, "
          f"{passed}/{n} passed")
    print(f"{n} problems x 8 samples per call: {statistics.median(batch_walls):.2f} s, "
          f"{statistics.median(batch_walls) / (8 * n) * 1000:.0f} ms per solution, "
          f"{ok}/{8 * n} passed")


if __name__ == "__main__":
    main()
