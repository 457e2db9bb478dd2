"""AutoIF's verification functions through one warm sandbox pool: functions judged per second.

Cross-validation as the autoif strategy does it for one instruction (``--functions`` samples,
each its own sandbox run over every pooled case), then response judging (each kept function
over ``--responses`` responses). Printed: wall time, functions per second, answers (function x
text) per second.

Usage: PYTHONPATH=. .venv/bin/python bench/autoif_functions.py [--functions 5] [--cases 8]
       [--responses 8] [--repeat 3] [--pool 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FUNCTIONS = [
    "def evaluate(response):\n    return len(response.split()) < 10\n",
    "def evaluate(response):\n    return len(response.split()) <= 9\n",
    "import re\ndef evaluate(response):\n    return len(re.findall(r'\\S+', response)) < 10\n",
    "def evaluate(response):\n    words = [w for w in response.split() if w]\n"
    "    return len(words) < 10\n",
    "def evaluate(response):\n    return response.count(' ') < 9\n",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--functions", type=int, default=5)
    ap.add_argument("--cases", type=int, default=8, help="at most 8 (the schema's bound)")
    ap.add_argument("--responses", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pool", type=int, default=2)
    args = ap.parse_args()
    os.environ["FACTORY_SANDBOX_POOL_SIZE"] = str(args.pool)
    from factory.sandbox_service import close_sandbox_pool, sandbox_pool
    from factory.strategies.autoif import AutoIf, AutoIfParams
    from factory.strategies.base import JudgedSample, Sample

    strategy = AutoIf(AutoIfParams(functions=args.functions, min_functions=1))
    cases = [{"response": " ".join(["w"] * (3 + 2 * i)) + ".", "expected": 3 + 2 * i < 10}
             for i in range(args.cases)]
    texts = [json.dumps({"function": FUNCTIONS[i % len(FUNCTIONS)], "cases": cases})
             for i in range(args.functions)]
    responses = [Sample(text=" ".join(["word"] * (4 + 3 * i)), ask="response", round=2)
                 for i in range(args.responses)]
    spec = strategy.build_prompts({"prompt": "q"})[0]
    sandbox_pool()  # containers started before the clock
    cross, judge = [], []
    try:
        for _ in range(args.repeat):
            start = time.perf_counter()
            verdicts = strategy.judge_after(spec, [Sample(text=t, ask="verifier", round=1)
                                                   for t in texts], [])
            cross.append(time.perf_counter() - start)
            kept = [JudgedSample(generation_id=i, sample_index=i, text=t, ask="verifier",
                                 round=1, verdict=v)
                    for i, (t, v) in enumerate(zip(texts, verdicts, strict=True)) if v.passed]
            start = time.perf_counter()
            found = strategy.judge_after(spec, responses, kept)
            judge.append(time.perf_counter() - start)
    finally:
        close_sandbox_pool()
    if len(kept) != args.functions:
        sys.exit(f"only {len(kept)} of {args.functions} honest functions kept: "
                 f"{[v.details['reason'] for v in verdicts]}")
    c, j = statistics.median(cross), statistics.median(judge)
    print(f"cross-validation: {args.functions} functions x {args.cases} cases in {c:.2f} s "
          f"(median of {args.repeat}): {args.functions / c:.1f} functions/s, "
          f"{args.functions * args.cases / c:.0f} answers/s; kept {len(kept)}")
    print(f"judging: {len(kept)} kept functions x {args.responses} responses in {j:.2f} s: "
          f"{len(kept) / j:.1f} functions/s, {len(kept) * args.responses / j:.0f} answers/s, "
          f"{args.responses / j:.1f} responses/s; passed {sum(v.passed for v in found)}")


if __name__ == "__main__":
    main()
