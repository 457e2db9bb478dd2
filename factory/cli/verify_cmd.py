"""`factory verify math | code`: a verifier on its own, line by line, results in input order."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from factory.cli.common import fail
from verifiers.math_answer import check_many

app = typer.Typer(no_args_is_help=True, help="Run a verifier on a file.")


@app.command("math")
def math(path: Path, out: Path | None = typer.Option(None, help="default: standard output")
         ) -> None:
    """Read {"gold", "response"} lines; write each back with "correct" and "extracted"."""
    if not path.is_file():
        raise fail(f"{path}: no such file")
    records = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                pair = (str(rec["gold"]), str(rec["response"]))
            except json.JSONDecodeError as exc:
                raise fail(f"{path}:{line_no}: invalid JSON: {exc.msg}") from None
            except (KeyError, TypeError) as exc:
                raise fail(f"{path}:{line_no}: field {exc} missing") from None
            records.append((rec, pair))
    checks = check_many([pair for _, pair in records])
    sink = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        for (rec, _), c in zip(records, checks, strict=True):
            rec.update(correct=c.correct, extracted=c.extracted)
            if c.error:
                rec["error"] = c.error
            sink.write(json.dumps(rec, ensure_ascii=False) + "\n")
    finally:
        if out:
            sink.close()


CODE_FIELDS = ("solution", "test", "entry_point")


@app.command("code")
def code(path: Path, out: Path | None = typer.Option(None, help="default: standard output"),
         timeout: float = typer.Option(10.0, help="seconds per check")) -> None:
    """Read {"solution", "test", "entry_point"} lines (optional "prompt": the problem's code
    the tests may use); write each back with "passed", "status" (passed, failed or error: the
    check itself could not run) and "reason". All lines go through one warm sandbox pool."""
    from factory.code_checks import Case, judge_cases, status_of

    if not path.is_file():
        raise fail(f"{path}: no such file")
    records, cases = [], []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise TypeError("not an object")
                missing = [f for f in CODE_FIELDS if not isinstance(rec.get(f), str)]
            except (json.JSONDecodeError, TypeError) as exc:
                raise fail(f"{path}:{line_no}: invalid JSON object: {exc}") from None
            if missing:
                raise fail(f"{path}:{line_no}: field {missing[0]!r} missing or not a string")
            records.append(rec)
            cases.append(Case(rec["solution"], rec["test"], rec["entry_point"],
                              str(rec.get("prompt") or "")))
    results = judge_cases(cases, timeout)
    sink = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        for rec, (ok, details) in zip(records, results, strict=True):
            rec.update(passed=ok, status=status_of(ok, details), reason=details.get("detail"))
            sink.write(json.dumps(rec, ensure_ascii=False) + "\n")
    finally:
        if out:
            sink.close()
