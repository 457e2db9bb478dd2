"""Identical lines in an export: which copy stays.

Two lines with the same body (metadata aside: two jobs that made the same example) are one
line in a training file. The copy kept is the best-scored one (a missing score is the lowest;
ties keep the first), the rule near-duplicate clusters follow (dedup.py), so a later, better
copy is never lost to an earlier one. The export writes every copy, then drops the others in
one more pass over the file; the lines are never all in memory, only a 16-byte key, a line
number and a score per distinct line.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any


def body_digest(line: dict[str, Any]) -> bytes:
    """A line's content key (its body without metadata); the manifest names lines by its hex."""
    body = {k: v for k, v in line.items() if k != "metadata"}
    return hashlib.blake2b(json.dumps(body, sort_keys=True).encode(), digest_size=16).digest()


def score_of(line: dict[str, Any]) -> float:
    """The line's score; none, or NaN (which would never lose a comparison), ranks lowest."""
    score = (line.get("metadata") or {}).get("score")
    value = float("-inf") if score is None else float(score)
    return float("-inf") if math.isnan(value) else value


class Copies:
    """The best copy of each body so far, as lines are written (numbered in file order)."""

    def __init__(self) -> None:
        self._best: dict[bytes, tuple[int, float]] = {}
        self.repeated: set[bytes] = set()  # bodies with more than one copy
        self.dropped = 0

    def __contains__(self, key: bytes) -> bool:
        return key in self._best

    def add(self, key: bytes, index: int, score: float) -> None:
        best = self._best.get(key)
        if best is None:
            self._best[key] = (index, score)
            return
        self.dropped += 1
        self.repeated.add(key)
        if score > best[1]:
            self._best[key] = (index, score)

    def keeps(self, key: bytes, index: int) -> bool:
        """Whether line ``index`` is the copy its body keeps."""
        return self._best[key][0] == index
