"""`factory export sft|dpo`: JSONL for trainers, with a manifest."""

from __future__ import annotations

from pathlib import Path

import typer

from factory.cli.common import console, sessions
from factory.export import ExportFilter, Kind, export

app = typer.Typer(no_args_is_help=True, help="Write SFT or DPO JSONL (TRL formats).")


def _run(kind: Kind, out: Path, job: int | None, strategy: str | None, min_score: float | None,
         system: str | None) -> None:
    with console.status(f"exporting {kind}"), sessions()() as session:
        r = export(session, kind, out, ExportFilter(job, strategy, min_score, system))
    console.print(f"{r.written} {kind} lines -> {r.path} ({r.duplicates} duplicates dropped); "
                  f"manifest {r.manifest}")


@app.command("sft")
def sft(out: Path = typer.Option(Path("export/sft.jsonl")), job: int | None = None,
        strategy: str | None = None, min_score: float | None = None,
        system: str | None = typer.Option(None, help="system message to prepend")) -> None:
    """SFT lines: {"messages": [...], "metadata": {...}}."""
    _run("sft", out, job, strategy, min_score, system)


@app.command("dpo")
def dpo(out: Path = typer.Option(Path("export/dpo.jsonl")), job: int | None = None,
        strategy: str | None = None, min_score: float | None = None,
        system: str | None = typer.Option(None, help="system message to prepend")) -> None:
    """Preference lines: {"prompt": [...], "chosen": [...], "rejected": [...], "metadata"}."""
    _run("dpo", out, job, strategy, min_score, system)
