"""Near-duplicate removal: recall on planted near-copies, false merges, time and memory.

    python bench/dedup.py grid            # recall / false merges per threshold and shingle size
    python bench/dedup.py scale 100000    # time and peak memory for N short lines (a subprocess
    python bench/dedup.py scale 1000000   #   each, so the peak is that run's own)

Lines: GSM8K train questions (7,473 distinct short texts) for the grid, with one planted
near-copy each of: a word replaced, a word inserted, a word deleted, two words replaced, a
number changed, case and punctuation changed. For scale: N lines of 8-30 words drawn from
GSM8K train's word frequencies, a tenth of them planted near-copies (one word replaced) of
earlier lines.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from factory.cleaning.dedup import DedupOptions, find_duplicates  # noqa: E402

EDITS = ("replace", "insert", "delete", "replace2", "number", "case_punct")


def questions() -> list[str]:
    with gzip.open(ROOT / "factory/data/gsm8k_train.jsonl.gz", "rt", encoding="utf-8") as fh:
        return list(dict.fromkeys(json.loads(line)["question"] for line in fh))


def edit(text: str, how: str, rng: random.Random, words: list[str]) -> str:
    w = text.split()
    i = rng.randrange(len(w))
    if how == "replace":
        w[i] = rng.choice(words)
    elif how == "insert":
        w.insert(i, rng.choice(words))
    elif how == "delete":
        del w[i]
    elif how == "replace2":
        for j in rng.sample(range(len(w)), 2):
            w[j] = rng.choice(words)
    elif how == "number":
        nums = [j for j, x in enumerate(w) if re.fullmatch(r"\$?\d+[.,?]?", x)]
        j = rng.choice(nums) if nums else i
        w[j] = str(rng.randrange(2, 99))
    else:
        return re.sub(r"[,.?]", "", text).upper()
    return " ".join(w)


def grid() -> None:
    rng = random.Random(0)
    base = questions()
    words = [w for q in base[:2000] for w in q.split()]
    planted = [(k, how, edit(base[k], how, rng, words))
               for how in EDITS for k in rng.sample(range(len(base)), 300)]
    texts = base + [t for _, _, t in planted]
    print(f"{len(base)} GSM8K train questions + {len(planted)} planted near-copies "
          f"({len(planted) // len(EDITS)} per edit)")
    print("| threshold | shingle | num_perm | recall | " + " | ".join(EDITS)
          + " | originals merged (of 7,473) | s |")
    print("|---" * (len(EDITS) + 6) + "|")
    configs = [(t, s, 64) for s in (1, 2, 3, 5) for t in (0.5, 0.6, 0.7, 0.8, 0.9)]
    for threshold, shingle, num_perm in configs + [(0.7, 2, 128)]:
        opts = DedupOptions(threshold=threshold, shingle=shingle, num_perm=num_perm)
        t = time.perf_counter()
        r = find_duplicates(lambda: ((x, 0.0) for x in texts), opts)
        secs = time.perf_counter() - t
        found = Counter(how for n, (_, how, _) in enumerate(planted)
                        if len(base) + n in r.dropped)
        merged = sum(1 for i in r.dropped if i < len(base))
        per = " | ".join(f"{found[h] / 300:.2f}" for h in EDITS)
        print(f"| {threshold} | {shingle} | {num_perm} | "
              f"{sum(found.values()) / len(planted):.3f} | {per} | {merged} | {secs:.1f} |")


def scale(n: int) -> None:
    rng = random.Random(1)
    freq = Counter(w.lower().strip(",.?") for q in questions() for w in q.split())
    vocab = list(freq)
    cum = list(accumulate(freq.values()))
    lines: list[str] = []
    planted: dict[int, int] = {}  # near-copy -> its original
    while len(lines) < n:
        if lines and rng.random() < 0.1:
            src = rng.randrange(len(lines))
            w = lines[src].split()
            w[rng.randrange(len(w))] = rng.choice(vocab)
            planted[len(lines)] = src
            lines.append(" ".join(w))
        else:
            lines.append(" ".join(rng.choices(vocab, cum_weights=cum, k=rng.randint(8, 30))))
    scores = [rng.random() for _ in lines]
    before = _rss_mb()
    t = time.perf_counter()
    r = find_duplicates(lambda: zip(lines, scores, strict=True))
    secs = time.perf_counter() - t
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for i, src in planted.items():
        words = len(lines[i].split())
        size = "8-12" if words <= 12 else "13-20" if words <= 20 else "21-30"
        total[size] += 1
        found[size] += r.dropped.get(i, i) == r.dropped.get(src, src)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"lines": n, "seconds": round(secs, 1), "lines_per_s": round(n / secs),
                      "rss_before_mb": round(before),
                      "peak_rss_mb": round(peak), "dropped": len(r.dropped),
                      "exact": r.exact, "near": r.near, "planted": len(planted),
                      "planted_found": round(sum(found.values()) / len(planted), 3),
                      "planted_found_by_words": {k: round(found[k] / total[k], 3)
                                                 for k in ("8-12", "13-20", "21-30")}}))


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(x.split()[1]) for x in fh if x.startswith("VmRSS:")) / 1024


if __name__ == "__main__":
    if sys.argv[1:2] == ["grid"]:
        grid()
    elif sys.argv[1:2] == ["scale"]:
        if len(sys.argv) > 3:
            scale(int(sys.argv[2]))
        else:  # each size in a process of its own, so each peak is its own
            for n in sys.argv[2:] or ["100000", "1000000"]:
                subprocess.run([sys.executable, __file__, "scale", n, "run"], check=True)
    else:
        sys.exit(__doc__)
