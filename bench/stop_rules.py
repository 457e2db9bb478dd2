"""Samples spent against examples kept: the math job's stop rules on a GPU-shaped server.

Runs the same math job three times, embedded, against ``bench/gpu_server.py`` (whose problems
each have a hidden chance of being answered right, spread from 5% to 95%):
- fixed: every problem gets N samples in one round (first_round = max_samples = N);
- quota (the default): rounds of a few samples, a problem stops once curation has its k
  distinct right samples and m pairs, or at N;
- quota + settle_after: also stop a problem that has only passed or only failed after S samples.
Prints samples, tokens the server generated, SFT lines and pairs per rule (summed over the job
seeds given: which samples come out depends on the request seeds, so one seed's difference of
a few dozen lines is noise), and each rule's samples and yield over the fixed rule's.

Usage: .venv/bin/python bench/stop_rules.py [--problems 1000] [--max-samples 16] [--settle 8]
       [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.job_throughput import embedded, start_server, stats  # noqa: E402
from factory.arithmetic import problems  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=1000)
    ap.add_argument("--max-samples", type=int, default=16)
    ap.add_argument("--settle", type=int, default=8)
    ap.add_argument("--port", type=int, default=8101)
    ap.add_argument("--seeds", default="0", help="comma-separated job seeds")
    args = ap.parse_args()
    chosen = list(islice(problems(11), args.problems))
    questions = [p.question for p in chosen]
    answers = [str(p.answer) for p in chosen]
    n = args.max_samples
    rules = {
        f"fixed N={n}": {"first_round": n, "per_round": n, "max_samples": n},
        "quota (default)": {"max_samples": n},
        f"quota + settle_after={args.settle}": {"max_samples": n,
                                                "settle_after": args.settle},
    }
    base = f"http://127.0.0.1:{args.port}"
    server = start_server(args.port)
    seeds = [int(x) for x in args.seeds.split(",")]
    rows = []
    try:
        for name, params in rules.items():
            total = [0, 0, 0, 0, 0.0]
            for seed in seeds:
                stats(base, reset=True)
                start = time.perf_counter()
                job = embedded(base + "/v1", questions, answers, {**params, "seed": seed})
                run = (job.samples, stats(base)["tokens"], job.sft, job.pairs,
                       time.perf_counter() - start)
                print(f"  {name}, seed {seed}: samples, tokens, sft, pairs, s = {run}",
                      flush=True)
                total = [a + b for a, b in zip(total, run, strict=True)]
            rows.append((name, *total))
    finally:
        server.terminate()
        server.wait(10)
    print(f"{args.problems} problems x seeds {seeds}, k=2 SFT lines and m=4 pairs kept per "
          "problem")
    print(f"{'rule':<30}{'samples':>9}{'tokens':>10}{'sft':>7}{'pairs':>7}{'wall s':>8}"
          f"{'samples/fixed':>15}{'sft/fixed':>11}{'pairs/fixed':>13}")
    _, s0, _, sft0, pairs0, _ = rows[0]
    for name, samples, tokens, sft, pairs, wall in rows:
        print(f"{name:<30}{samples:>9}{tokens:>10.0f}{sft:>7}{pairs:>7}{wall:>8.1f}"
              f"{samples / s0:>15.3f}{sft / sft0:>11.3f}{pairs / pairs0:>13.3f}")


if __name__ == "__main__":
    main()
