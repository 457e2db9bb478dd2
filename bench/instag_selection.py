"""Tag coverage of InsTag's complexity-first selection against random selection.

Two pools: the hand-written tagged instructions of the tests (normalised with the MiniLM
synonym merge), and a synthetic pool of 10,000 instructions whose tags follow a long-tailed
(Zipf-like) distribution over 1,500 tags with 1 to 8 tags each, like model-written tags. For
each selection size N it prints the share of the ontology's tags the selection covers, and the
same for 20 uniform samples of N (mean, low, high). Also times the ontology build.

Usage: .venv/bin/python bench/instag_selection.py [--pool 10000] [--tags 1500] [--draws 20]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from factory.instag.embeddings import MiniLM  # noqa: E402
from factory.instag.ontology import Ontology, OntologySettings, build  # noqa: E402
from factory.instag.selection import (  # noqa: E402
    TaggedInstruction,
    complexity_first,
    coverage,
    random_baseline,
)

WORDS = ("code", "data", "math", "story", "poem", "email", "table", "list", "graph", "query",
         "test", "bug", "plan", "essay", "letter", "chart", "model", "proof", "rule", "style",
         "tone", "fact", "date", "name", "place")


def synthetic(pool: int, tags: int, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    names = [f"{WORDS[i % len(WORDS)]} {i}" for i in range(tags)]
    weights = [1 / (rank + 1) ** 1.1 for rank in range(tags)]
    out = []
    for _ in range(pool):
        k = rng.choices(range(1, 9), weights=(10, 20, 22, 18, 12, 8, 6, 4))[0]
        picked: set[str] = set()
        while len(picked) < k:
            picked.add(rng.choices(names, weights=weights)[0])
        out.append(sorted(picked))
    return out


def report(title: str, o: Ontology, sizes: list[int], draws: int) -> None:
    pool = [TaggedInstruction(id=i, tags=frozenset(t)) for i, t in enumerate(o.assigned)]
    all_tags = {t.tag for t in o.tags}
    print(f"\n{title}: {len(pool)} instructions, {len(all_tags)} tags")
    print("| N | complexity-first | random mean (low-high) | ratio | select (ms) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        start = time.perf_counter()
        chosen = complexity_first(pool, n)
        ms = (time.perf_counter() - start) * 1000
        cov = coverage(chosen, all_tags).share
        base = random_baseline(pool, n, all_tags, draws=draws)
        print(f"| {n:,} | {cov:.1%} | {base.mean:.1%} ({base.low:.1%}-{base.high:.1%}) | "
              f"{cov / base.mean:.2f}x | {ms:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pool", type=int, default=10_000)
    ap.add_argument("--tags", type=int, default=1_500)
    ap.add_argument("--draws", type=int, default=20)
    args = ap.parse_args()

    fixture = [json.loads(line)["tags"] for line in
               (ROOT / "tests/fixtures/tagged_instructions.jsonl").read_text().splitlines()]
    report("hand-written fixture (MiniLM merge, min_count 2)",
           build(fixture, OntologySettings(), MiniLM()), [4, 8], args.draws)

    raw = synthetic(args.pool, args.tags)
    start = time.perf_counter()
    rules_only = build(raw, OntologySettings(similarity=0))
    rules_s = time.perf_counter() - start
    start = time.perf_counter()
    merged = build(raw, OntologySettings(), MiniLM())
    merged_s = time.perf_counter() - start
    print(f"\nontology build, {args.pool:,} instructions, {sum(map(len, raw)):,} raw tags: "
          f"rules only {rules_s:.2f}s ({len(rules_only.tags)} tags, "
          f"{len(rules_only.dropped)} rare dropped); with MiniLM synonym merge {merged_s:.2f}s "
          f"({len(merged.tags)} tags)")
    report("synthetic long-tailed pool (rules only, min_count 2, seed 0)", rules_only,
           [100, 500, 1_000, 2_000], args.draws)


if __name__ == "__main__":
    main()
