"""`factory export sft|dpo`: JSONL for trainers, with a manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from factory.cleaning.benchmarks import select
from factory.cleaning.dedup import SHINGLE, THRESHOLD, DedupOptions
from factory.cleaning.export_pass import CleaningOptions
from factory.cli.common import console, fail, sessions
from factory.export import ExportFilter, Kind, export

app = typer.Typer(no_args_is_help=True, help="Write SFT or DPO JSONL (TRL formats).")


def _run(kind: Kind, out: Path, job: int | None, strategy: str | None, min_score: float | None,
         system: str | None, cleaning: CleaningOptions | None = None) -> None:
    with console.status(f"exporting {kind}"), sessions()() as session:
        r = export(session, kind, out, ExportFilter(job, strategy, min_score, system), cleaning)
    decon, dedup = r.cleaning["decontamination"], r.cleaning["near_duplicates"]
    cleaned = ", ".join(
        [f"{decon['dropped']} matching a benchmark" if decon["enabled"] else "no decontamination",
         f"{dedup['exact_dropped'] + dedup['near_dropped']} near-duplicates"
         if dedup["enabled"] else "no near-duplicate removal"])
    console.print(f"{r.written} {kind} lines -> {r.path} ({r.duplicates} duplicates dropped; "
                  f"{cleaned}); manifest {r.manifest}")


def _command(kind: Kind, doc: str) -> Callable[..., None]:
    def command(
        out: Path = typer.Option(Path(f"export/{kind}.jsonl")), job: int | None = None,
        strategy: str | None = None, min_score: float | None = None,
        system: str | None = typer.Option(None, help="system message to prepend"),
        decontaminate: bool = typer.Option(
            True, help="drop lines that match a benchmark (the Qwen2 LCS rule)"),
        benchmark: list[str] | None = typer.Option(
            None, help="benchmark to check against, repeatable (default: all)"),
        dedup: bool = typer.Option(True, help="drop exact and near-duplicate lines"),
        dedup_threshold: float = typer.Option(THRESHOLD, help="MinHash Jaccard threshold"),
        shingle: int = typer.Option(SHINGLE, help="words per shingle"),
    ) -> None:
        try:  # an unknown benchmark, an option out of range: one clear line
            select(benchmark)
            cleaning = CleaningOptions(decontaminate, tuple(benchmark or ()), dedup,
                                       DedupOptions(threshold=dedup_threshold, shingle=shingle))
        except ValueError as exc:
            raise fail(str(exc)) from None
        _run(kind, out, job, strategy, min_score, system, cleaning)

    command.__doc__ = doc
    return command


app.command("sft")(_command("sft", 'SFT lines: {"messages": [...], "metadata": {...}}.'))
app.command("dpo")(_command(
    "dpo", 'Preference lines: {"prompt": [...], "chosen": [...], "rejected": [...], "metadata"}.'))
