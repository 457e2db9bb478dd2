"""Helpers shared by the CLI commands: settings, sessions, clean error exits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from db.models import Job
from db.session import sessionmaker_for
from factory.config import Settings, get_settings

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def settings() -> Settings:
    return get_settings()


def sessions() -> sessionmaker[Session]:
    return sessionmaker_for(settings().database_url)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(code)


@contextmanager
def clean_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn expected errors into one red line and exit code 1 instead of a traceback."""
    try:
        yield
    except kinds as exc:
        raise fail(str(exc)) from None


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise fail(f"no job {job_id}")
    return job
