"""Decontamination, identical copies and near-duplicates applied to an export, with the manifest's
record.

The export hands each line to ``Cleaner.admit`` as it streams (a line whose prompt or response
texts match a benchmark by the Qwen2 rule is not written; identical copies are written and
noted), then ``Cleaner.finish`` rewrites the finished file without the copies that lost
(copies.py) and without near-duplicates (two passes over the file: MinHash signatures, then
the copy; the lines themselves are never all in memory). Both keep the best-scored line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.cleaning.benchmarks import select
from factory.cleaning.copies import Copies, body_digest, score_of
from factory.cleaning.decontaminate import MIN_LCS, MIN_RATIO, Decontaminator, Match
from factory.cleaning.dedup import DedupOptions, find_duplicates
from factory.cleaning.lines import texts_of


@dataclass(frozen=True)
class CleaningOptions:
    decontaminate: bool = True
    benchmarks: tuple[str, ...] = ()  # empty: all in the registry
    dedup: bool = True
    dedup_options: DedupOptions = DedupOptions()


@dataclass
class Rewritten:
    """The file after a rewrite (copies or near-duplicates dropped): what the manifest counts."""
    written: int
    sha256: str
    models: set[str] = field(default_factory=set)
    jobs: set[int] = field(default_factory=set)


def line_key(line: dict[str, Any]) -> str:
    """A line's content key (its body without metadata), as the manifest names lines."""
    return body_digest(line).hex()


def _ref(line: dict[str, Any]) -> dict[str, Any]:
    meta = line.get("metadata") or {}
    return {"key": line_key(line), "job": meta.get("job"), "seed_item": meta.get("seed_item")}


def _scored_ref(line: dict[str, Any]) -> dict[str, Any]:
    return {**_ref(line), "score": (line.get("metadata") or {}).get("score")}


def rewrite(path: Path, keep: Callable[[int, dict[str, Any]], bool]) -> Rewritten:
    """Rewrite ``path`` in place with only the lines ``keep(line number, line)`` accepts."""
    digest = hashlib.sha256()
    out = Rewritten(0, "")
    tmp = path.with_name(path.name + ".rewrite")
    with path.open(encoding="utf-8") as src, tmp.open("w", encoding="utf-8") as dst:
        for i, raw in enumerate(src):
            line = json.loads(raw)
            if not keep(i, line):
                continue
            dst.write(raw)
            digest.update(raw.encode("utf-8"))
            out.written += 1
            meta = line.get("metadata") or {}
            out.models.add(meta.get("model"))
            out.jobs.add(meta.get("job"))
    tmp.replace(path)
    out.sha256 = digest.hexdigest()
    return out


class Cleaner:
    def __init__(self, options: CleaningOptions) -> None:
        self.options = options
        self.decon = (Decontaminator(select(list(options.benchmarks)))
                      if options.decontaminate else None)
        self.contaminated_lines: dict[str, list[dict[str, Any]]] = {}
        self._matches: dict[bytes, Match] = {}  # contaminated bodies, checked once
        self.copies = Copies()
        self._written = 0
        self.copies_record: list[dict[str, Any]] = []
        self.dedup_record: dict[str, Any] | None = None

    def admit(self, line: dict[str, Any]) -> bool:
        """Whether to write ``line``: not if it matches a benchmark (then it is recorded for
        the manifest). A written line that repeats an earlier body is noted; ``finish``
        keeps the best of them."""
        key = body_digest(line)
        if key not in self.copies and self.contaminated(line, key):
            return False
        self.copies.add(key, self._written, score_of(line))
        self._written += 1
        return True

    def contaminated(self, line: dict[str, Any], key: bytes | None = None) -> bool:
        """Whether ``line`` matches a benchmark (then it is recorded for the manifest)."""
        if self.decon is None:
            return False
        key = body_digest(line) if key is None else key
        m = self._matches.get(key) or self.decon.match_any(texts_of(line))
        if m is None:
            return False
        self._matches[key] = m
        self.contaminated_lines.setdefault(m.benchmark, []).append(
            {**_ref(line), "item_id": m.item_id, "lcs": m.lcs, "ratio": round(m.ratio, 4)})
        return True

    def finish(self, path: Path) -> Rewritten | None:
        """Drop the losing copies, then the near-duplicates, of the file ``admit`` let through;
        the new file's figures, or None when nothing was dropped."""
        out = self.drop_copies(path)
        return self.dedup_file(path) or out

    def drop_copies(self, path: Path) -> Rewritten | None:
        """Keep one copy of each body, its best-scored (ties: the first); each dropped copy is
        recorded with the copy kept."""
        if not self.copies.dropped:
            return None
        kept: dict[bytes, dict[str, Any]] = {}
        dropped: list[tuple[bytes, dict[str, Any]]] = []

        def keep(i: int, line: dict[str, Any]) -> bool:
            key = body_digest(line)
            if self.copies.keeps(key, i):
                if key in self.copies.repeated:
                    kept[key] = _scored_ref(line)
                return True
            dropped.append((key, _scored_ref(line)))
            return False

        out = rewrite(path, keep)
        self.copies_record = [{**ref, "kept": {k: v for k, v in kept[key].items() if k != "key"}}
                              for key, ref in dropped]
        return out

    def dedup_file(self, path: Path) -> Rewritten | None:
        """Drop the near-duplicates of ``path`` in place (each cluster keeps its best-scored
        line); the new file's figures, or None when nothing was dropped."""
        if not self.options.dedup:
            return None

        def items():
            with path.open(encoding="utf-8") as fh:
                for raw in fh:
                    line = json.loads(raw)
                    yield "\n".join(texts_of(line)), (line.get("metadata") or {}).get("score")

        r = find_duplicates(items, self.options.dedup_options)
        self.dedup_record = {"exact_dropped": r.exact, "near_dropped": r.near, "dropped": []}
        if not r.dropped:
            return None
        kept_refs: dict[int, dict[str, Any]] = {}
        kept = set(r.dropped.values())

        def keep(i: int, line: dict[str, Any]) -> bool:
            if i in kept:
                kept_refs[i] = _ref(line)
            if i in r.dropped:
                self.dedup_record["dropped"].append({**_ref(line), "kept": r.dropped[i]})
                return False
            return True

        out = rewrite(path, keep)
        for d in self.dedup_record["dropped"]:
            d["kept"] = kept_refs[d["kept"]]["key"]
        return out

    def manifest(self) -> dict[str, Any]:
        """What was on and what it dropped, for the export's manifest."""
        o = self.options
        decon: dict[str, Any] = {"enabled": o.decontaminate}
        if self.decon is not None:
            decon |= {"rule": {"min_lcs": MIN_LCS, "min_ratio": MIN_RATIO,
                               "tokens": "lower-cased words and numbers, punctuation and "
                                         "symbols removed"},
                      "benchmarks": self.decon.benchmarks,
                      "dropped": sum(map(len, self.contaminated_lines.values())),
                      "dropped_per_benchmark": {
                          b: {"count": len(lines), "lines": lines}
                          for b, lines in sorted(self.contaminated_lines.items())}}
        dedup: dict[str, Any] = {"enabled": o.dedup}
        if o.dedup:
            d = o.dedup_options
            dedup |= {"threshold": d.threshold, "shingle": d.shingle, "num_perm": d.num_perm,
                      "library": "rensa", **(self.dedup_record or {})}
        return {"decontamination": decon, "near_duplicates": dedup}
