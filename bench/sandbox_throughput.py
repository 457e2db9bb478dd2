"""Sandbox: executions per second and p50/p95 latency of a trivial program, warm pool against
a fresh `docker run` per program, measured in the same run (target: warm >= 3x faster).

Usage: .venv/bin/python bench/sandbox_throughput.py [--runs 60] [--fresh-runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factory.config import Settings  # noqa: E402
from verifiers.sandbox import SandboxPool, docker_client, run_fresh  # noqa: E402

PROGRAM = "print(sum(range(10)))"


def report(label: str, latencies: list[float], wall: float) -> float:
    q = statistics.quantiles(latencies, n=20)
    rate = len(latencies) / wall
    print(f"{label:24s} runs {len(latencies):4d}  {rate:6.2f} exec/s  "
          f"p50 {statistics.median(latencies) * 1000:7.1f} ms  p95 {q[18] * 1000:7.1f} ms")
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--fresh-runs", type=int, default=20)
    args = ap.parse_args()
    image = Settings().sandbox_image
    client = docker_client()
    run_fresh(client, image, PROGRAM)  # warm the image cache
    lat = []
    start = time.perf_counter()
    for _ in range(args.fresh_runs):
        t = time.perf_counter()
        assert run_fresh(client, image, PROGRAM).stdout == "45\n"
        lat.append(time.perf_counter() - t)
    fresh = report("fresh docker run", lat, time.perf_counter() - start)
    with SandboxPool(image, size=2) as pool:
        pool.run(PROGRAM)
        lat = []
        start = time.perf_counter()
        for _ in range(args.runs):
            t = time.perf_counter()
            r = pool.run(PROGRAM)
            assert r.status == "ok" and r.stdout == "45\n", r
            lat.append(time.perf_counter() - t)
        warm = report("warm pool, 1 per exec", lat, time.perf_counter() - start)
        lat = []
        start = time.perf_counter()
        for _ in range(args.runs // 8):
            t = time.perf_counter()
            results = pool.run_many([(PROGRAM, "")] * 8)
            assert all(r.stdout == "45\n" for r in results)
            lat.extend([(time.perf_counter() - t) / 8] * 8)
        batched = report("warm pool, 8 per exec", lat, time.perf_counter() - start)
    print(f"warm / fresh throughput: {warm / fresh:.2f}x one program per exec, "
          f"{batched / fresh:.2f}x eight per exec (as the code strategy runs a prompt's samples)")


if __name__ == "__main__":
    main()
