"""`factory contamination scan`: which lines of a JSONL file match a benchmark (Qwen2 rule)."""

from __future__ import annotations

from pathlib import Path

import typer

from factory.cleaning.benchmarks import select
from factory.cleaning.decontaminate import Decontaminator
from factory.cleaning.lines import texts_of
from factory.cli.common import fail
from factory.cli.verify_cmd import _read, _write

app = typer.Typer(no_args_is_help=True, help="Benchmark contamination of training data.")


@app.command("scan")
def scan(path: Path,
         benchmark: list[str] | None = typer.Option(
             None, help="benchmark to check against, repeatable (default: all)"),
         out: Path | None = typer.Option(None, help="default: standard output")) -> None:
    """Read lines with "text", "messages" or "prompt"/"chosen"/"rejected"; write each back, in
    order, with "contaminated" and, when true, "benchmark", "item_id", "lcs" and "ratio" (of
    the best match of any of the line's texts: |LCS| / the shorter sequence's length)."""
    try:
        benchmarks = select(benchmark)
    except ValueError as exc:
        raise fail(str(exc)) from None
    records = _read(path, (), strings=False, check=texts_of)
    decon = Decontaminator(benchmarks)
    for rec in records:
        m = decon.match_any(texts_of(rec))
        rec["contaminated"] = m is not None
        if m is not None:
            rec.update(m.as_dict())
    _write(records, out)
