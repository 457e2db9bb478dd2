"""The benchmarks exports are checked against: each has a name, a loader and its licence.

What text of a benchmark item counts. The point is catching a test item that leaks into a
training line, whichever part of it leaks, so every part a model could be trained on is a
sequence of its own (the rule's ``min(|s_t|, |s_e|)`` lets a short training text match a
longer sequence, and a sequence per part keeps chance matches of short training texts
against long concatenations down):

- GSM8K test: the question, and the reference solution (its ``<<48/2=24>>`` calculator
  annotations removed: they are a format artefact that no leaked copy need carry; the final
  ``#### 72`` stays, its symbols are stripped anyway). A training prompt that is a test
  question, or a response that copies a test solution, is caught.
- HumanEval: the prompt with the canonical solution (one program: the solution continues the
  prompt's signature and docstring, and a leaked reference is usually written whole), and the
  test (its asserts are the graded inputs and outputs). The prompt alone is inside the first,
  so a training line that only asks the task is caught too.
- IFEval: the prompt (the benchmark has no reference responses).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class BenchmarkItem:
    item_id: str
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    licence: str
    licence_file: Path
    load: Callable[[], Iterator[BenchmarkItem]]


def _jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


_CALC = re.compile(r"<<[^>]*>>")


def _gsm8k_test() -> Iterator[BenchmarkItem]:
    for i, rec in enumerate(_jsonl(DATA / "gsm8k_test.jsonl")):
        yield BenchmarkItem(f"test/{i}", (rec["question"], _CALC.sub("", rec["answer"])))


def _humaneval() -> Iterator[BenchmarkItem]:
    for rec in _jsonl(DATA / "HumanEval.jsonl.gz"):
        yield BenchmarkItem(rec["task_id"], (rec["prompt"] + rec["canonical_solution"],
                                             rec["test"]))


def _ifeval() -> Iterator[BenchmarkItem]:
    for rec in _jsonl(DATA / "ifeval_input_data.jsonl.gz"):
        yield BenchmarkItem(str(rec["key"]), (rec["prompt"],))


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (
    Benchmark("gsm8k-test", "GSM8K test split (1,319 problems): question, solution", "MIT",
              DATA / "LICENSE.gsm8k", _gsm8k_test),
    Benchmark("humaneval", "HumanEval (164 tasks): prompt + canonical solution, test", "MIT",
              DATA / "LICENSE.humaneval", _humaneval),
    Benchmark("ifeval", "IFEval (541 prompts)", "Apache-2.0", DATA / "LICENSE.ifeval", _ifeval),
)}


def select(names: list[str] | None = None) -> list[Benchmark]:
    """The named benchmarks (all when ``names`` is empty or None); an unknown name is a
    ValueError listing the known ones."""
    if not names:
        return list(BENCHMARKS.values())
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark {', '.join(unknown)} "
                         f"(known: {', '.join(BENCHMARKS)})")
    return [BENCHMARKS[n] for n in dict.fromkeys(names)]
