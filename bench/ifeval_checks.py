"""IFEval checks per second: strict and loose verdicts for every instruction of IFEval's 541
prompts, on responses of a few hundred words in several shapes (prose, a titled bulleted list
with highlights, JSON, all lower-case, all capitals, two responses), so every check sees text
that follows it and text that does not.

Usage: .venv/bin/python bench/ifeval_checks.py [--per-prompt N] [--words W]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verifiers.ifeval import evaluate  # noqa: E402
from verifiers.ifeval.keywords import WORDS  # noqa: E402
from verifiers.ifeval.text import language  # noqa: E402

FILLER_TEXT = ("the plan keeps a steady course through the season while the team checks each "
               "step and writes down what changed before the next meeting")
FILLER = FILLER_TEXT.split()


def prose(rng: random.Random, words: int) -> str:
    out, sentence = [], []
    for _ in range(words):
        sentence.append(rng.choice(FILLER + list(WORDS)))
        if len(sentence) >= rng.randint(8, 18):
            out.append(" ".join(sentence).capitalize() + ".")
            sentence = []
    out.append(" ".join(sentence or ["done"]).capitalize() + ".")
    paragraphs = [" ".join(out[i:i + 4]) for i in range(0, len(out), 4)]
    return "\n\n".join(paragraphs)


def shapes(rng: random.Random, words: int, prompt: str) -> list[str]:
    text = prose(rng, words)
    bullets = "\n".join(f"* *{line[:40]}* {line[40:]}" for line in text.split("\n\n"))
    return [
        text,
        f"<<A plan>>\n{bullets}\n\nP.S. Any other questions?",
        json.dumps({"answer": text}),
        text.lower(),
        text.upper().replace(",", ""),
        f"{prompt}\n\n{text[:400]}\n******\n{text[400:800]}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-prompt", type=int, default=6, help="responses per prompt (<= 6)")
    ap.add_argument("--words", type=int, default=300)
    args = ap.parse_args()
    with gzip.open(ROOT / "factory/data/ifeval_input_data.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh]
    language.cache_clear()
    rng = random.Random(0)
    work = [(r, resp) for r in rows
            for resp in shapes(rng, args.words, r["prompt"])[:args.per_prompt]]
    instructions = sum(len(r["instruction_id_list"]) for r, _ in work)
    start = time.perf_counter()
    results = [evaluate(resp, r["instruction_id_list"], r["kwargs"]) for r, resp in work]
    elapsed = time.perf_counter() - start
    strict = sum(sum(x.strict) for x in results)
    loose = sum(sum(x.loose) for x in results)
    print(f"responses: {len(work)}  instructions: {instructions}  wall: {elapsed:.2f}s  "
          f"throughput: {len(work) / elapsed:.0f} responses/s "
          f"({instructions / elapsed:.0f} instructions/s, strict and loose)")
    print(f"followed: strict {strict / instructions:.3f}  loose {loose / instructions:.3f}")
    # where the time goes: one instruction type at a time, on the same responses
    per_type: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for r, resp in work:
        for iid, kw in zip(r["instruction_id_list"], r["kwargs"], strict=True):
            language.cache_clear()  # each check pays for its own language detection
            t = time.perf_counter()
            evaluate(resp, [iid], [kw])
            per_type[iid] += time.perf_counter() - t
            count[iid] += 1
    print("slowest types (ms per check, strict and loose):")
    for iid, total in per_type.most_common(5):
        print(f"  {iid}: {1000 * total / count[iid]:.2f}")


if __name__ == "__main__":
    main()
