"""Benchmark decontamination by the Qwen2 rule, fast.

The rule (Qwen2 technical report, section 3.1): after removing punctuation and symbols and
tokenising, a training sequence s_t is dropped if some benchmark sequence s_e has a longest
common subsequence of tokens with |LCS| >= 13 and |LCS| >= 0.6 * min(|s_t|, |s_e|).

Tokens are lower-cased runs of letters and digits (everything else, punctuation, symbols and
the underscore, separates them). Checking every benchmark sequence for every training text
is too slow (thousands of LCS computations per line), so an index of token 3-grams finds the
candidates and only those get the exact LCS (rapidfuzz's bit-parallel ``LCSseq`` on token-id
lists).

Each token is encoded as one character (the benchmark vocabulary fits in Unicode easily), so a
token sequence is a ``str``: rapidfuzz's fastest path, and an n-gram is a 3-character slice.

Why 3-grams and how exact that is. A 13-token LCS need not share any 13-gram: one changed
number or name splits it. It is a subsequence, so in principle it need share nothing
contiguous at all; in practice a leaked item is a copy with a few edits (a number, a name, a
wrapper around it, punctuation), and its LCS is made of runs that are contiguous in both
texts. With 13 or more matched tokens, a miss needs every run to be 1 or 2 tokens long, i.e.
an edit at least every third token. Tokens a benchmark never uses are dropped from the
training side before the grams are taken (they cannot be in any LCS), so words inserted into
a copy do not break its runs either. 3-grams that occur in more than ``max_postings``
benchmark sequences ("how many dollars") are left out of the index: they would make most
lines candidates of hundreds of sequences; a copy still shares its rarer 3-grams.
tests/test_cleaning_decontaminate.py checks the index against the brute-force rule (every
sequence, exact LCS) on planted copies and on GSM8K train items.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import LCSseq
from rapidfuzz.process import cdist

from factory.cleaning.benchmarks import Benchmark

MIN_LCS = 13
MIN_RATIO = 0.6
_TOKEN = re.compile(r"[^\W_]+")


def tokens(text: str) -> list[str]:
    """Lower-cased words and numbers; punctuation, symbols and whitespace removed."""
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class Match:
    benchmark: str
    item_id: str
    lcs: int
    ratio: float  # |LCS| / min(|s_t|, |s_e|)

    def as_dict(self) -> dict:
        return {"benchmark": self.benchmark, "item_id": self.item_id, "lcs": self.lcs,
                "ratio": round(self.ratio, 4)}


def rule_holds(lcs: int, len_t: int, len_e: int, min_lcs: int = MIN_LCS,
               min_ratio: float = MIN_RATIO) -> bool:
    return lcs >= min_lcs and lcs >= min_ratio * min(len_t, len_e)


class Decontaminator:
    """The benchmarks' sequences, indexed; ``match(text)`` is the best match by the rule."""

    def __init__(self, benchmarks: Sequence[Benchmark], min_lcs: int = MIN_LCS,
                 min_ratio: float = MIN_RATIO, ngram: int = 3, max_postings: int = 64) -> None:
        self.benchmarks = [b.name for b in benchmarks]
        self.min_lcs, self.min_ratio, self.ngram = min_lcs, min_ratio, ngram
        self.vocab: dict[str, str] = {}  # token -> the one character that encodes it
        self.seqs: list[str] = []
        self.owner: list[tuple[str, str]] = []  # (benchmark, item_id) per sequence
        postings: dict[str, set[int]] = defaultdict(set)
        for b in benchmarks:
            for item in b.load():
                for text in item.texts:
                    ids = "".join([self._code(t) for t in tokens(text)])
                    if len(ids) < min_lcs:  # can never reach the LCS floor
                        continue
                    s = len(self.seqs)
                    self.seqs.append(ids)
                    self.owner.append((b.name, item.item_id))
                    for i in range(len(ids) - ngram + 1):
                        postings[ids[i:i + ngram]].add(s)
        self.index = {g: tuple(p) for g, p in postings.items() if len(p) <= max_postings}
        self.skipped_grams = len(postings) - len(self.index)

    def _code(self, token: str) -> str:
        code = self.vocab.get(token)
        if code is None:
            n = len(self.vocab) + 0x100
            code = self.vocab[token] = chr(n if n < 0xD800 else n + 0x800)  # no surrogates
        return code

    def _ids(self, toks: list[str]) -> str:
        """The tokens the benchmarks know, encoded; the others can be in no LCS."""
        get = self.vocab.get
        return "".join([c for c in map(get, toks) if c is not None])

    def candidates(self, ids: str) -> set[int]:
        index, found, n = self.index, set(), self.ngram
        for i in range(len(ids) - n + 1):
            p = index.get(ids[i:i + n])
            if p is not None:
                found.update(p)
        return found

    def _check(self, ids: str, len_t: int, seqs: Iterable[int]) -> Match | None:
        seqs = list(seqs)
        if not seqs or len(ids) < self.min_lcs:
            return None
        # all candidates in one call; below the LCS floor counts as 0
        scores = cdist([ids], [self.seqs[s] for s in seqs], scorer=LCSseq.similarity,
                       score_cutoff=self.min_lcs, dtype=np.int32)[0]
        best: tuple[float, int, int] | None = None
        for k in np.flatnonzero(scores):
            s, lcs = seqs[k], int(scores[k])
            shortest = min(len_t, len(self.seqs[s]))
            if rule_holds(lcs, len_t, len(self.seqs[s]), self.min_lcs, self.min_ratio):
                key = (lcs / shortest, lcs, -s)
                if best is None or key > best:
                    best = key
        if best is None:
            return None
        ratio, lcs, neg = best
        name, item_id = self.owner[-neg]
        return Match(name, item_id, lcs, ratio)

    def match(self, text: str) -> Match | None:
        """The benchmark sequence that ``text`` matches best by the rule (highest ratio,
        then longest LCS), or None."""
        toks = tokens(text)
        if len(toks) < self.min_lcs:
            return None
        ids = self._ids(toks)
        if len(ids) < self.min_lcs:
            return None
        return self._check(ids, len(toks), self.candidates(ids))

    def match_brute(self, text: str) -> Match | None:
        """The rule against every sequence, no index: the reference the index is tested
        against."""
        toks = tokens(text)
        return self._check(self._ids(toks), len(toks), range(len(self.seqs)))

    def match_any(self, texts: Iterable[str]) -> Match | None:
        """The best match of any of a line's texts."""
        found = [m for m in map(self.match, texts) if m is not None]
        return max(found, key=lambda m: (m.ratio, m.lcs)) if found else None

    def stats(self) -> dict:
        return {"sequences": len(self.seqs), "vocabulary": len(self.vocab),
                "per_benchmark": dict(Counter(b for b, _ in self.owner))}
