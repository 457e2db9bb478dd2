"""`factory annotators` and `factory annotate`: accounts, ranking tasks, the web app."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.table import Table

from factory.annotation import login_sessions, stats, task_queue
from factory.annotation.accounts import AccountError, Role, account, add_annotator, set_password
from factory.cli.common import clean_errors, console, sessions, settings

annotators = typer.Typer(no_args_is_help=True, help="Annotator accounts.")
app = typer.Typer(no_args_is_help=True, help="Ranking tasks for people, and the web app.")

PASSWORD = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                        envvar="FACTORY_NEW_PASSWORD", help="asked for when not given")


@annotators.command("add")
def add(name: str, role: Role = typer.Option(Role.annotator, "--role"),
        password: str = PASSWORD) -> None:
    """Make an account (annotator or admin); the password is stored as an argon2 hash."""
    with clean_errors(AccountError), sessions().begin() as s:
        a = add_annotator(s, name, role, password)
        console.print(f"{a.role} [bold]{a.name}[/] added")


@annotators.command("passwd")
def passwd(name: str, password: str = PASSWORD) -> None:
    """Set a new password; the account's log-in sessions end."""
    with clean_errors(AccountError), sessions().begin() as s:
        ended = login_sessions.end_all(s, set_password(s, name, password).id)
    console.print(f"password of {name} changed; {ended} sessions ended")


@annotators.command("logout")
def logout(name: str) -> None:
    """End every log-in session of this account (all tabs and devices)."""
    with clean_errors(AccountError), sessions().begin() as s:
        ended = login_sessions.end_all(s, account(s, name).id)
    console.print(f"{ended} sessions of {name} ended")


@annotators.command("list")
def list_() -> None:
    """Accounts and how many tasks each has judged."""
    table = Table("name", "role", "rankings", "skipped")
    with sessions()() as s:
        rows = stats.per_annotator(s)
    for row in rows:
        table.add_row(row["annotator"], row["role"], str(row["rankings"]), str(row["skipped"]))
    console.print(table if rows else "no annotators yet: factory annotators add NAME")


@app.command("create")
def create(job: int = typer.Option(..., help="a job whose prompts have several samples"),
           k: int | None = typer.Option(None, help="annotators per task [settings]"),
           max_responses: int | None = typer.Option(None, help="responses per task [settings]"),
           ask: str | None = typer.Option(
               None, help="only samples answering this ask (say t0.7, or follow)")) -> None:
    """Make ranking tasks from a job's samples: one per prompt with 2 or more distinct ones."""
    cfg = settings()
    with clean_errors(task_queue.TaskError), sessions().begin() as s:
        made, left_out = task_queue.create_tasks(s, job, k or cfg.annotation_k,
                                                 max_responses or cfg.annotation_max_responses,
                                                 ask)
    console.print(f"{made} tasks made for job {job}; {left_out} prompts have fewer than two "
                  "distinct responses")


@app.command("status")
def status() -> None:
    """Task progress per job and inter-annotator agreement."""
    table = Table("job", "strategy", "tasks", "done", "open", "rankings", "skipped")
    with sessions()() as s:
        for r in stats.task_progress(s):
            table.add_row(*(str(r[c]) for c in ("job", "strategy", "tasks", "done", "open",
                                                 "rankings", "skipped")))
        alpha, shared = stats.inter_annotator_agreement(s)
        quality = stats.annotator_quality(s)
    console.print(table)
    shown = "n/a" if alpha is None else f"{alpha:.3f}"
    console.print(f"Krippendorff's alpha (ordinal): {shown} over {shared} shared tasks")
    if quality.position:  # any rankings at all
        console.print(_per_annotator(quality))


def _per_annotator(quality: stats.QualityTables) -> Table:
    """The Progress page's three tables in one row per annotator, worst agreement first, so a
    careless or adversarial annotator shows without the app."""
    rows: dict[str, dict] = {}
    for part in (quality.agreement, quality.time, quality.position):
        for row in part:
            rows.setdefault(row["annotator"], {}).update(row)
    rows[stats.EVERYONE] = rows.pop(stats.EVERYONE)  # last: the whole team's position bias
    table = Table("annotator", "compared", "agreement", "median s", "first share", "p (no bias)",
                  title="Per annotator: agreement with the others, time, position bias")
    for name, r in rows.items():
        table.add_row(name, _shown(r.get("compared"), "{}"), _shown(r.get("agreement"), "{:.0%}"),
                      _shown(r.get("median s"), "{:.1f}"), _shown(r.get("first share"), "{:.0%}"),
                      _shown(r.get("p (no bias)"), "{:.2g}"))
    return table


def _shown(value: object, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


@app.command("app")
def run_app(port: int = typer.Option(8501), address: str = typer.Option("127.0.0.1")) -> None:
    """Serve the annotation app (Streamlit, with the session routes) on ADDRESS:PORT."""
    import annotation_ui

    # its look and client settings: annotation_ui/.streamlit/config.toml, which Streamlit
    # reads beside the script whatever the working directory
    script = Path(annotation_ui.__file__).parent / "server.py"
    args = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
            "--server.port", str(port), "--server.address", address]
    # uvicorn believes X-Forwarded-For from these only (its default would be 127.0.0.1):
    # the per-client log-in back-off keys on the address it settles on
    env = {**os.environ, "FORWARDED_ALLOW_IPS": settings().annotation_trusted_proxies}
    os.execve(sys.executable, args, env)
