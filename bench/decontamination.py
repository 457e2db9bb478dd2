"""Benchmark decontamination: lines per second, false positives, the index against brute force.

    python bench/decontamination.py [N]     (N lines, default 100,000)

Lines: SFT-shaped (a user prompt and an assistant response) from GSM8K train, the same
distribution as the test split, which is the hard case for the index (most lines share 3-grams
with test items): each train question with its solution (calculator annotations removed, as a
model writes it), one number changed per copy so the lines are distinct, and 1% planted test
questions (wrapped in a request). Checked against GSM8K test + HumanEval (the goal: 100,000
lines in under a minute), then against all benchmarks. Then the false-positive rate on 2,000
GSM8K train items (question and solution; with and without the annotations), and how often
the index and the brute-force rule (every sequence, exact LCS) disagree on those items.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from factory.cleaning.benchmarks import select  # noqa: E402
from factory.cleaning.decontaminate import Decontaminator  # noqa: E402

CALC = re.compile(r"<<[^>]*>>")


def load(name: str) -> list[dict]:
    path = ROOT / "factory/data" / name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def lines(n: int, rng: random.Random) -> tuple[list[list[str]], int]:
    train, test = load("gsm8k_train.jsonl.gz"), load("gsm8k_test.jsonl")
    out, planted = [], 0
    while len(out) < n:
        if rng.random() < 0.01:
            q = rng.choice(test)["question"]
            out.append([f"Could you help me with this homework problem? {q} Thanks!",
                        "Sure, let's work through it."])
            planted += 1
            continue
        r = rng.choice(train)
        q = re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randrange(1, 9)), r["question"],
                   count=1)
        out.append([q, CALC.sub("", r["answer"])])
    return out, planted


def throughput(names: list[str], data: list[list[str]], planted: int) -> None:
    t = time.perf_counter()
    d = Decontaminator(select(names))
    build = time.perf_counter() - t
    t = time.perf_counter()
    hits = sum(1 for texts in data if d.match_any(texts) is not None)
    secs = time.perf_counter() - t
    print(f"| {' + '.join(names)} | {len(data):,} | {build:.1f} | {secs:.1f} | "
          f"{len(data) / secs:,.0f} | {hits:,} ({planted:,} planted) |")


def false_positives(rng: random.Random) -> None:
    d = Decontaminator(select())
    items = rng.sample(load("gsm8k_train.jsonl.gz"), 2000)
    for label, strip in (("as shipped (with <<...>> annotations)", False),
                         ("annotations removed", True)):
        texts = [[r["question"], CALC.sub("", r["answer"]) if strip else r["answer"]]
                 for r in items]
        flagged = [t for t in texts if d.match_any(t) is not None]
        q_only = sum(1 for t in texts if d.match(t[0]) is not None)
        print(f"- GSM8K train, {len(items):,} items, {label}: {len(flagged)} flagged "
              f"({len(flagged) / len(items):.2%}); by the question alone {q_only} "
              f"({q_only / len(items):.2%})")
    t = time.perf_counter()
    disagree = sum(1 for t in texts for x in t if (d.match(x) is None) != (d.match_brute(x)
                                                                          is None))
    print(f"- index vs brute-force rule on those {2 * len(items):,} texts: {disagree} "
          f"disagreements ({time.perf_counter() - t:.0f} s, mostly the brute force)")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rng = random.Random(0)
    data, planted = lines(n, rng)
    print("| benchmarks | lines | index build s | check s | lines/s | lines flagged |")
    print("|---|---|---|---|---|---|")
    throughput(["gsm8k-test", "humaneval"], data, planted)
    throughput(["gsm8k-test", "humaneval", "ifeval"], data, planted)
    false_positives(rng)
