"""Verifier throughput: math-verify checks per second on GSM8K-style answers.

Half the responses are right, half wrong, in GSM8K's own answer forms (thousands separators
included). Usage: .venv/bin/python bench/verifier_throughput.py [--count N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from factory.seeds import MathSeed  # noqa: E402
from verifiers.math_answer import check_many  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=2000)
    args = ap.parse_args()
    golds = [MathSeed.model_validate(json.loads(line)).answer
             for line in (ROOT / "factory/data/gsm8k_test.jsonl").open()]
    pairs = []
    for i in range(args.count):
        gold = golds[i % len(golds)]
        answer = gold if i % 2 == 0 else str(int(gold.replace(",", "")) + 1 + i % 7)
        pairs.append((gold, f"Step 1: ...\nStep 2: ...\nSo the answer is \\boxed{{{answer}}}."))
    start = time.perf_counter()
    results = check_many(pairs)
    elapsed = time.perf_counter() - start
    right = sum(r.correct for r in results)
    assert right == (args.count + 1) // 2, right
    print(f"checks: {args.count}  wall: {elapsed:.2f}s  throughput: "
          f"{args.count / elapsed:.0f} checks/s (first pass, caches cold for distinct golds)")


if __name__ == "__main__":
    main()
