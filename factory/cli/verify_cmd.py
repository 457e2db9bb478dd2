"""`factory verify math | code | ifeval`: a verifier on its own, line by line, results in input
order."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from factory.cli.common import fail
from verifiers.math_answer import check_many

app = typer.Typer(no_args_is_help=True, help="Run a verifier on a file.")


def _read(path: Path, fields: tuple[str, ...], strings: bool,
          check: Callable[[dict[str, Any]], object] | None = None) -> list[dict[str, Any]]:
    """The file's JSON objects, all or none: a line that is not an object, or lacks one of
    ``fields`` (or, with ``strings``, has one that is not a string), or that ``check`` refuses
    with a ValueError, is a clear error naming it, before anything is checked."""
    if not path.is_file():
        raise fail(f"{path}: no such file")
    records = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise fail(f"{path}:{line_no}: invalid JSON object: {exc.msg}") from None
            if not isinstance(rec, dict):
                raise fail(f"{path}:{line_no}: invalid JSON object: not an object")
            for f in fields:
                if rec.get(f) is None:
                    raise fail(f"{path}:{line_no}: field {f!r} missing")
                if strings and not isinstance(rec[f], str):
                    raise fail(f"{path}:{line_no}: field {f!r} is not a string")
            if check is not None:
                try:
                    check(rec)
                except ValueError as exc:
                    raise fail(f"{path}:{line_no}: {exc}") from None
            records.append(rec)
    return records


def _write(records: list[dict[str, Any]], out: Path | None) -> None:
    """Each record as a line, in input order, to ``out`` or standard output."""
    sink = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        for rec in records:
            sink.write(json.dumps(rec, ensure_ascii=False) + "\n")
    finally:
        if out:
            sink.close()


@app.command("math")
def math(path: Path, out: Path | None = typer.Option(None, help="default: standard output")
         ) -> None:
    """Read {"gold", "response"} lines; write each back with "correct" and "extracted"."""
    records = _read(path, ("gold", "response"), strings=False)  # a gold may be a number
    checks = check_many([(str(rec["gold"]), str(rec["response"])) for rec in records])
    for rec, c in zip(records, checks, strict=True):
        rec.update(correct=c.correct, extracted=c.extracted)
        if c.error:
            rec["error"] = c.error
    _write(records, out)


@app.command("code")
def code(path: Path, out: Path | None = typer.Option(None, help="default: standard output"),
         timeout: float = typer.Option(10.0, help="seconds per check")) -> None:
    """Read {"solution", "test", "entry_point"} lines (optional "prompt": the problem's code
    the tests may use); write each back with "passed", "status" (passed, failed or error: the
    check itself could not run) and "reason". All lines go through one warm sandbox pool."""
    from factory.code_checks import Case, judge_cases, status_of

    records = _read(path, ("solution", "test", "entry_point"), strings=True)
    results = judge_cases([Case(rec["solution"], rec["test"], rec["entry_point"],
                                str(rec.get("prompt") or "")) for rec in records], timeout)
    for rec, (ok, details) in zip(records, results, strict=True):
        rec.update(passed=ok, status=status_of(ok, details), reason=details.get("detail"))
    _write(records, out)


def _ifeval_line(rec: dict[str, Any]) -> None:
    from verifiers.ifeval import prepare

    if not isinstance(rec["response"], str):
        raise ValueError("field 'response' is not a string")
    prepare(rec["instruction_id_list"], rec["kwargs"])


@app.command("ifeval")
def ifeval(path: Path, out: Path | None = typer.Option(None, help="default: standard output")
           ) -> None:
    """Read {"response", "instruction_id_list", "kwargs"} lines (IFEval's format: kwargs is a
    list of objects, one per instruction, null values unset); write each back with "strict"
    and "loose", one boolean per instruction. A bad line is an error naming it."""
    from verifiers.ifeval import evaluate

    records = _read(path, ("response", "instruction_id_list", "kwargs"), strings=False,
                    check=_ifeval_line)
    for rec in records:
        result = evaluate(rec["response"], rec["instruction_id_list"], rec["kwargs"])
        rec.update(strict=result.strict, loose=result.loose)
    _write(records, out)
