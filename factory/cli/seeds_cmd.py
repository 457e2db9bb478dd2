"""`factory seeds`: import and list seed sets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select

from db.models import SeedSet
from factory.cli.common import clean_errors, console, sessions
from factory.passages import Window
from factory.seeds import SeedFileError, SeedKind, import_seeds

app = typer.Typer(no_args_is_help=True, help="Seed material: math, code, text, prompts.")


@app.command("import")
def import_(path: Path, kind: SeedKind = typer.Option(..., "--kind"),
            name: str | None = typer.Option(None, help="defaults to the file name"),
            min_tokens: int = typer.Option(64, help="text: shortest passage kept"),
            max_tokens: int = typer.Option(512, help="text: longest passage")) -> None:
    """Import a JSONL file (or plain text for --kind text, split into passages) as one seed
    set, all or nothing."""
    with clean_errors(SeedFileError, ValueError), console.status(f"importing {path}"), \
            sessions().begin() as session:
        window = Window(min_tokens, max_tokens)
        seed_set, created = import_seeds(session, path, kind, name, window)
        msg = "imported" if created else "already imported (same content)"
        console.print(f"seed set [bold]{seed_set.id}[/] {msg}: {seed_set.item_count} items")


@app.command("list")
def list_() -> None:
    """List seed sets."""
    table = Table("id", "name", "kind", "items", "source")
    with sessions()() as session:
        for s in session.scalars(select(SeedSet).order_by(SeedSet.id)):
            table.add_row(str(s.id), s.name, s.kind, str(s.item_count), s.source)
    console.print(table)
