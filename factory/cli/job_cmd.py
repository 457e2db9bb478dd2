"""`factory job`: create, run, watch, cancel and resume jobs."""

from __future__ import annotations

import json
import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from db.models import Job, SeedSet
from factory import jobs
from factory.cli.common import clean_errors, console, fail, get_job, sessions, settings
from factory.llm import LLMError
from factory.runner import Dispatcher, InProcess

app = typer.Typer(no_args_is_help=True, help="Jobs: a strategy run over a seed set.")


def _parse_params(pairs: list[str], params_json: str | None) -> dict:
    params = json.loads(params_json) if params_json else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise fail(f"--param takes KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def create(strategy: str, seed_set_id: int, params: dict, name: str | None = None) -> int:
    with clean_errors(jobs.JobError), sessions().begin() as session:
        seed_set = session.get(SeedSet, seed_set_id)
        if seed_set is None:
            raise fail(f"no seed set {seed_set_id}")
        job = jobs.create_job(session, strategy, seed_set, params, settings().llm_model, name)
        session.flush()
        return job.id


@app.command("create")
def create_cmd(strategy: str = typer.Option(..., help="e.g. math"),
               seeds: int = typer.Option(..., help="seed set id"),
               param: list[str] = typer.Option([], help="KEY=VALUE, repeatable"),
               params_json: str | None = typer.Option(None, help="parameters as a JSON object"),
               name: str | None = None) -> None:
    """Plan a job: render its prompts and split it into batches."""
    job_id = create(strategy, seeds, _parse_params(param, params_json), name)
    console.print(f"job [bold]{job_id}[/] created")


def dispatcher(on_step=None) -> Dispatcher:
    if settings().broker_url:
        from workers.tasks import CeleryDispatcher  # composition root: only here

        return CeleryDispatcher()
    return InProcess(sessions(), settings(), on_step=on_step)


def drive(job_id: int, wait: bool = True) -> jobs.Progress:
    """Start (or resume) a job and, unless told not to, follow it to the end with a progress bar."""
    maker = sessions()
    with maker.begin() as session:
        job = get_job(session, job_id)
        steps = jobs.start(session, job)
        total = jobs.progress(session, job).batches
    bar = Progress(TextColumn("job {task.fields[job]}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("batches  {task.fields[gens]} samples"), TimeElapsedColumn(),
                   console=console, transient=False)
    task = bar.add_task("run", total=total, job=job_id, gens=0)

    def refresh(_step: object = None) -> jobs.Progress:
        with maker() as s:
            p = jobs.progress(s, get_job(s, job_id))
        bar.update(task, completed=p.batches_done, gens=p.generations)
        return p

    with bar:
        refresh()
        with clean_errors(LLMError):
            dispatcher(on_step=refresh).send(steps)
        if settings().broker_url and wait:
            _follow(job_id, refresh)
        return refresh()


def _follow(job_id: int, refresh) -> None:
    """Wait on a broker-run job; re-send batches idle past the stale limit (lost workers)."""
    last_sweep = time.monotonic()
    while refresh().status == "running":
        time.sleep(1.0)
        if time.monotonic() - last_sweep > settings().stale_batch_s:
            last_sweep = time.monotonic()
            with sessions().begin() as session:
                stale = jobs.pending_steps(session, get_job(session, job_id),
                                           older_than_s=settings().stale_batch_s)
            dispatcher().send(stale)


def _report(p: jobs.Progress, job_id: int) -> None:
    colour = {"done": "green", "failed": "red", "cancelled": "yellow"}.get(p.status, "white")
    console.print(f"job {job_id}: [{colour}]{p.status}[/]  batches {p.batches_done}/{p.batches}"
                  f"  samples {p.generations}  sft {p.sft}  pairs {p.pairs}")
    if p.error:
        console.print(f"[red]{p.error}[/]", highlight=False, markup=False)
    if p.status == "failed":
        raise typer.Exit(1)


@app.command("run")
def run(job_id: int, wait: bool = typer.Option(True, help="follow a broker-run job")) -> None:
    """Run a job: in-process without a broker, else by sending its batches to the workers."""
    _report(drive(job_id, wait), job_id)


@app.command("resume")
def resume(job_id: int, wait: bool = typer.Option(True)) -> None:
    """Continue a cancelled, failed or interrupted job; finished batches are not redone."""
    _report(drive(job_id, wait), job_id)


@app.command("cancel")
def cancel(job_id: int) -> None:
    """Cancel a job: queued work becomes a no-op, finished work stays."""
    with sessions().begin() as session:
        job = get_job(session, job_id)
        jobs.cancel(session, job)
        console.print(f"job {job_id}: {job.status}")


@app.command("status")
def status(job_id: int) -> None:
    """Progress of a job."""
    with sessions()() as session:
        p = jobs.progress(session, get_job(session, job_id))
    console.print_json(json.dumps(p.__dict__))


@app.command("list")
def list_() -> None:
    """List jobs."""
    table = Table("id", "name", "strategy", "seeds", "model", "status")
    with sessions()() as session:
        for j in session.scalars(select(Job).order_by(Job.id)):
            table.add_row(str(j.id), j.name, j.strategy, str(j.seed_set_id), j.model, j.status)
    console.print(table)
