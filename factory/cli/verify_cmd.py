"""`factory verify math`: the answer checker on its own, line by line."""

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
