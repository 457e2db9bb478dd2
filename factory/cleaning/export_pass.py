"""Decontamination and near-duplicate removal applied to an export, with the manifest's record.

The export hands each line to ``Cleaner.contaminated`` as it streams (a line whose prompt or
response texts match a benchmark by the Qwen2 rule is not written), then ``Cleaner.dedup_file``
rewrites the finished file without near-duplicates (two passes over the file: MinHash
signatures, then the copy; the lines themselves are never all in memory).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.cleaning.benchmarks import select
from factory.cleaning.decontaminate import MIN_LCS, MIN_RATIO, Decontaminator
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
    """The file after near-duplicate removal: what the manifest counts."""
    written: int
    sha256: str
    models: set[str] = field(default_factory=set)
    jobs: set[int] = field(default_factory=set)


def line_key(line: dict[str, Any]) -> str:
    """A line's content key (its body without metadata), as the manifest names lines."""
    body = {k: v for k, v in line.items() if k != "metadata"}
    return hashlib.blake2b(json.dumps(body, sort_keys=True).encode(), digest_size=16).hexdigest()


def _ref(line: dict[str, Any]) -> dict[str, Any]:
    meta = line.get("metadata") or {}
    return {"key": line_key(line), "job": meta.get("job"), "seed_item": meta.get("seed_item")}


class Cleaner:
    def __init__(self, options: CleaningOptions) -> None:
        self.options = options
        self.decon = (Decontaminator(select(list(options.benchmarks)))
                      if options.decontaminate else None)
        self.contaminated_lines: dict[str, list[dict[str, Any]]] = {}
        self.dedup_record: dict[str, Any] | None = None

    def contaminated(self, line: dict[str, Any]) -> bool:
        """Whether ``line`` matches a benchmark (then it is recorded for the manifest)."""
        if self.decon is None:
            return False
        m = self.decon.match_any(texts_of(line))
        if m is None:
            return False
        self.contaminated_lines.setdefault(m.benchmark, []).append(
            {**_ref(line), "item_id": m.item_id, "lcs": m.lcs, "ratio": round(m.ratio, 4)})
        return True

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
        keep = set(r.dropped.values())
        digest = hashlib.sha256()
        out = Rewritten(0, "")
        tmp = path.with_name(path.name + ".dedup")
        with path.open(encoding="utf-8") as src, tmp.open("w", encoding="utf-8") as dst:
            for i, raw in enumerate(src):
                line = json.loads(raw)
                if i in keep:
                    kept_refs[i] = _ref(line)
                if i in r.dropped:
                    self.dedup_record["dropped"].append({**_ref(line), "kept": r.dropped[i]})
                    continue
                dst.write(raw)
                digest.update(raw.encode("utf-8"))
                out.written += 1
                meta = line.get("metadata") or {}
                out.models.add(meta.get("model"))
                out.jobs.add(meta.get("job"))
        for d in self.dedup_record["dropped"]:
            d["kept"] = kept_refs[d["kept"]]["key"]
        tmp.replace(path)
        out.sha256 = digest.hexdigest()
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
