"""Exact and near-duplicate lines: normalised-text hashes, then MinHash with LSH (rensa).

Each line's text is normalised (the decontamination tokens: lower-cased words and numbers,
punctuation and symbols dropped) and hashed: lines with the same hash are exact duplicates.
The others get a MinHash of their word ``shingle``-grams; an LSH index (bands chosen so that
a pair at the threshold collides in some band with probability >= 0.97) proposes earlier
lines, and a pair is kept as near-duplicates when the MinHash estimate of its Jaccard
similarity reaches ``threshold``. Pairs join clusters (union-find, so near-copies of
near-copies are one cluster), and each cluster keeps its best-scored line (a missing score
is the lowest; ties keep the earliest line).

Boilerplate. An export's prompts carry their template ("Solve the following math problem step
by step. Put your final answer in \\boxed{}."), which in short lines outweighs the problem:
"What is 3 + 193?" and "What is 5 + 193?" would be near-duplicates. So a first pass counts in
how many lines each shingle occurs, and shingles found in more than ``max_df`` of the lines
(and in at least ``min_df_lines`` of them) are left out of the MinHash (a line made only of
them keeps them all). The price: a cluster of near-copies that is itself more than half of
the file (and at least that many lines) loses the shingles it shares; the exact-hash step
still merges its identical lines.
"""

from __future__ import annotations

import hashlib
import zlib
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from rensa import RMinHash, RMinHashLSH

from factory.cleaning.decontaminate import tokens

THRESHOLD = 0.7
SHINGLE = 2
NUM_PERM = 64


@dataclass(frozen=True)
class DedupOptions:
    threshold: float = THRESHOLD
    shingle: int = SHINGLE
    num_perm: int = NUM_PERM
    seed: int = 0
    max_df: float = 0.5
    min_df_lines: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError("near-duplicate threshold must be in (0, 1]")
        if self.shingle < 1:
            raise ValueError("shingle size must be at least 1")


@dataclass
class DedupResult:
    dropped: dict[int, int] = field(default_factory=dict)  # line -> kept line of its cluster
    exact: int = 0  # dropped lines with the same normalised text as the kept one
    near: int = 0   # the other dropped lines
    lines: int = 0


def bands(num_perm: int, threshold: float, recall: float = 0.97) -> int:
    """The fewest LSH bands (dividing ``num_perm``) with which a pair whose Jaccard
    similarity is ``threshold`` shares a band with probability at least ``recall``."""
    for b in (d for d in range(1, num_perm + 1) if num_perm % d == 0):
        if 1 - (1 - threshold ** (num_perm // b)) ** b >= recall:
            return b
    return num_perm


def shingles(toks: list[str], k: int) -> list[str]:
    if len(toks) <= k:
        return [" ".join(toks)]
    return [" ".join(toks[i:i + k]) for i in range(len(toks) - k + 1)]


_BUCKETS = 1 << 22  # shingle document frequencies, hashed (a collision only overcounts)


def _buckets(shingles: list[str]) -> set[int]:
    return {zlib.crc32(x.encode()) & (_BUCKETS - 1) for x in shingles}


class _Signatures:
    """MinHash digests, row by row, in numpy blocks (4 bytes a permutation a line)."""

    def __init__(self, num_perm: int, block: int = 1 << 16) -> None:
        self.blocks: list[np.ndarray] = []
        self.num_perm, self.block, self.n = num_perm, block, 0

    def add(self, digest: list[int]) -> int:
        if self.n % self.block == 0:
            self.blocks.append(np.empty((self.block, self.num_perm), dtype=np.uint32))
        self.blocks[-1][self.n % self.block] = digest
        self.n += 1
        return self.n - 1

    def __getitem__(self, row: int) -> np.ndarray:
        return self.blocks[row // self.block][row % self.block]


def find_duplicates(items: Callable[[], Iterable[tuple[str, float | None]]],
                    options: DedupOptions = DedupOptions()) -> DedupResult:
    """``items()``: (text, score) per line, in file order; it is called twice (shingle counts,
    then signatures), so a file is streamed, never held. Which lines to drop, each with the
    line its cluster keeps."""
    o = options
    df = array("I", bytes(4 * _BUCKETS))
    lines = 0
    for text, _ in items():
        lines += 1
        for b in _buckets(shingles(tokens(text), o.shingle)):
            df[b] += 1
    cut = max(o.min_df_lines, o.max_df * lines)

    lsh = RMinHashLSH(o.threshold, o.num_perm, bands(o.num_perm, o.threshold))
    parent = array("q")
    group = array("q")  # the first line with the same normalised text
    scores = array("d")
    first: dict[bytes, int] = {}
    sig_row: dict[int, int] = {}
    sigs = _Signatures(o.num_perm)
    need = int(np.ceil(o.threshold * o.num_perm - 1e-9))  # equal permutations for a match

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    for i, (text, score) in enumerate(items()):
        toks = tokens(text)
        parent.append(i)
        scores.append(float("-inf") if score is None else float(score))
        h = hashlib.blake2b(" ".join(toks).encode(), digest_size=16).digest()
        j = first.setdefault(h, i)
        group.append(j)
        if j != i:
            union(i, j)
            continue
        sh = shingles(toks, o.shingle)
        sh = [x for x in sh if df[zlib.crc32(x.encode()) & (_BUCKETS - 1)] <= cut] or sh
        m = RMinHash(o.num_perm, o.seed)
        m.update(sh)
        digest = np.asarray(m.digest(), dtype=np.uint32)
        for k in lsh.query(m):
            if root(k) != root(i) and np.count_nonzero(sigs[sig_row[k]] == digest) >= need:
                union(i, k)
        lsh.insert(i, m)
        sig_row[i] = sigs.add(digest)
    result = DedupResult(lines=len(parent))
    best: dict[int, int] = {}
    for i in range(len(parent)):
        r = root(i)
        b = best.get(r)
        if b is None or scores[i] > scores[b]:
            best[r] = i
    for i in range(len(parent)):
        keep = best[root(i)]
        if keep != i:
            result.dropped[i] = keep
            if group[i] == group[keep]:
                result.exact += 1
            else:
                result.near += 1
    return result
