"""`factory verify code FILE.jsonl`: HumanEval-style checks on their own, through one warm pool,
written back in input order; bad lines get a clear error naming the line."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

from tests.conftest import FACTORY
from tests.helpers import ROOT


def humaneval(n: int) -> list[dict]:
    with gzip.open(ROOT / "factory/data/HumanEval.jsonl.gz", "rt") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh, strict=False)]


def verify(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([FACTORY, "verify", "code", str(path)], capture_output=True,
                          text=True, timeout=300)


def test_lines_come_back_in_order_with_passed_status_and_reason(tmp_path: Path) -> None:
    problems = humaneval(3)
    lines = []
    for p in problems:  # the canonical solution, then a wrong one
        right = p["prompt"] + p["canonical_solution"]
        wrong = p["prompt"] + "    return None\n"
        for solution in (right, wrong):
            lines.append({"solution": solution, "test": p["test"],
                          "entry_point": p["entry_point"], "id": len(lines)})
    first = problems[0]
    lines.append({"solution": first["prompt"] + first["canonical_solution"],
                  "test": "def not_check(candidate):\n    assert True\n",
                  "entry_point": first["entry_point"], "id": len(lines)})  # broken tests
    lines.append({"solution": "def f(:\n", "test": first["test"],
                  "entry_point": first["entry_point"], "id": len(lines)})  # not Python
    # the forgery that once passed: rebinding a builtin the tests use
    lines.append({"solution": "abs = lambda v: 0\n" + first["prompt"] + "    return True\n",
                  "test": first["test"], "entry_point": first["entry_point"],
                  "id": len(lines)})
    path = tmp_path / "solutions.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = verify(path)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["id"] for o in out] == list(range(len(lines)))
    assert [o["status"] for o in out[:6]] == ["passed", "failed"] * 3
    assert all(o["passed"] == (o["status"] == "passed") for o in out)
    assert all(o["reason"] for o in out if not o["passed"])
    assert out[6]["status"] == "error" and "check" in out[6]["reason"]
    assert out[7]["status"] == "failed" and "not valid Python" in out[7]["reason"]
    assert out[8]["status"] == "failed"


def test_a_bad_line_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    p = humaneval(1)[0]
    good = {"solution": p["prompt"] + p["canonical_solution"], "test": p["test"],
            "entry_point": p["entry_point"]}
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "entry_point": None}) + "\n")
    done = verify(path)
    assert done.returncode == 1 and done.stdout == ""
    assert f"{path}:2: field 'entry_point' missing" in done.stderr
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "test": 3}) + "\n")
    done = verify(path)
    assert done.returncode == 1 and f"{path}:2: field 'test' is not a string" in done.stderr
    path.write_text(json.dumps(good) + "\n{not json\n")
    done = verify(path)
    assert done.returncode == 1 and f"{path}:2: invalid JSON object" in done.stderr
