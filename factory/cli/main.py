"""Entry point of the `factory` command."""

from __future__ import annotations

import json

import typer
from sqlalchemy.exc import OperationalError

from db.migrate import current, upgrade
from factory.cli import (
    annotate_cmd,
    contamination_cmd,
    export_cmd,
    instag_cmd,
    job_cmd,
    model_cmd,
    sandbox_cmd,
    seeds_cmd,
    status_cmd,
    verify_cmd,
    worker_cmd,
)
from factory.cli.common import clean_errors, console, settings
from factory.cli.demo import demo

app = typer.Typer(no_args_is_help=True, help="Synthetic instruction data: SFT and DPO from vLLM.")
db_app = typer.Typer(no_args_is_help=True, help="The store's schema.")
app.add_typer(db_app, name="db")
app.add_typer(seeds_cmd.app, name="seeds")
app.add_typer(job_cmd.app, name="job")
app.add_typer(export_cmd.app, name="export")
app.add_typer(model_cmd.app, name="model")
app.add_typer(verify_cmd.app, name="verify")
app.add_typer(contamination_cmd.app, name="contamination")
app.add_typer(sandbox_cmd.app, name="sandbox")
app.add_typer(instag_cmd.app, name="instag")
app.add_typer(annotate_cmd.annotators, name="annotators")
app.add_typer(annotate_cmd.app, name="annotate")
app.command("worker")(worker_cmd.worker)
app.command("demo")(demo)
app.command("status")(status_cmd.status)


@app.command("config")
def config() -> None:
    """Print the effective settings, secrets masked."""
    console.print_json(json.dumps(settings().masked()))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the store's schema (SQLite or PostgreSQL) up to REVISION."""
    url = settings().database_url
    with clean_errors(OperationalError):
        upgrade(url, revision)
        console.print(f"schema at [bold]{current(url)}[/] on {settings().masked()['database_url']}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the store."""
    with clean_errors(OperationalError):
        console.print(current(settings().database_url) or "empty")


if __name__ == "__main__":
    app()
