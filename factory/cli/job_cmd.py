"""`factory job`: create, run, watch, cancel and retry jobs.

`factory job run` starts a job or continues it from where it stands, whatever stopped it
(created, cancelled, failed, interrupted): finished batches are never redone. So there is one
command; `factory job resume` is its alias, for scripts and habits that say so."""

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
from factory.sweep import claim_stranded

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


def _check_consumers(job_id: int, wait_for_workers: bool) -> None:
    """With a broker, say at once when no worker consumes a queue the job needs, rather than
    wait forever in silence. A worker may be starting right now: allow it
    FACTORY_WORKER_GRACE_S, except with ``wait_for_workers``, which sends the job anyway (the
    grace would only delay it), so one look decides whether to say it waits."""
    from workers.inspect import missing_consumers  # composition root: only here

    with sessions()() as session:
        needed = jobs.queues_of(get_job(session, job_id))
    grace = 0.0 if wait_for_workers else settings().worker_grace_s
    deadline = time.monotonic() + grace
    missing = missing_consumers(needed)
    while missing and time.monotonic() < deadline:  # no sleep: each look waits 2 s for replies
        missing = missing_consumers(needed)
    if not missing:
        return
    hint = f"start one: factory worker --queues {','.join(missing)}"
    if not wait_for_workers:
        raise fail(f"no worker is consuming queue(s) {', '.join(missing)} on "
                   f"{settings().broker_url}; {hint} (or pass --wait-for-workers)")
    console.print(f"[yellow]no worker is consuming queue(s) {', '.join(missing)} yet; "
                  f"waiting ({hint})[/]")


def drive(job_id: int, wait: bool = True, wait_for_workers: bool = False) -> jobs.Progress:
    """Start (or resume) a job and, unless told not to, follow it to the end with a progress bar."""
    maker = sessions()
    if settings().broker_url:
        _check_consumers(job_id, wait_for_workers)
    with maker.begin() as session:
        job = get_job(session, job_id)
        steps = jobs.start(session, job, take_over=not settings().broker_url)
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
    """Wait on a broker-run job; the workers sweep stranded steps themselves, and so does this
    loop (the same claim, so a step is never sent twice by two sweepers)."""
    last_sweep = time.monotonic()
    while refresh().status == "running":
        time.sleep(1.0)
        if time.monotonic() - last_sweep > settings().sweep_interval_s:
            last_sweep = time.monotonic()
            with sessions().begin() as session:
                stale = claim_stranded(session, settings().stale_batch_s, job_id)
            dispatcher().send(stale)


def _report(p: jobs.Progress, job_id: int) -> None:
    colour = {"done": "green", "failed": "red", "cancelled": "yellow"}.get(p.status, "white")
    console.print(f"job {job_id}: [{colour}]{p.status}[/]  batches {p.batches_done}/{p.batches}"
                  f"  samples {p.generations}  sft {p.sft}  pairs {p.pairs}")
    if p.errored_prompts:
        console.print(f"[yellow]{p.errored_prompts} prompt(s) errored[/] (factory job status "
                      f"{job_id} says why; factory job retry {job_id} sends them again)")
    if p.error:
        console.print(f"[red]{p.error}[/]", highlight=False, markup=False)
    if p.status == "failed":
        raise typer.Exit(1)


WAIT_FOR_WORKERS = typer.Option(False, help="with a broker: send the job at once, even when no "
                                 "worker consumes its queues yet, and wait for one")


WAIT = typer.Option(True, help="follow a broker-run job")


@app.command("run")
def run(job_id: int, wait: bool = WAIT, wait_for_workers: bool = WAIT_FOR_WORKERS) -> None:
    """Run a job, or continue a cancelled, failed or interrupted one (finished batches are not
    redone): in-process without a broker, else by sending its batches to the workers."""
    _report(drive(job_id, wait, wait_for_workers), job_id)


app.command("resume", help="Alias of `factory job run` (which also continues a stopped job).")(
    run)


@app.command("retry")
def retry(job_id: int, wait: bool = WAIT,
          wait_for_workers: bool = WAIT_FOR_WORKERS) -> None:
    """Send the job's errored prompts again (after fixing what made the server refuse them);
    the other prompts' samples are kept and not asked again."""
    with sessions().begin() as session:
        retried = jobs.retry_errored(session, get_job(session, job_id))
    console.print(f"job {job_id}: {retried} errored prompt(s) sent again")
    _report(drive(job_id, wait, wait_for_workers), job_id)


@app.command("cancel")
def cancel(job_id: int) -> None:
    """Cancel a job: queued work becomes a no-op, finished work stays."""
    with sessions().begin() as session:
        job = get_job(session, job_id)
        jobs.cancel(session, job)
        console.print(f"job {job_id}: {job.status}")


@app.command("status")
def status(job_id: int) -> None:
    """Progress of a job, with the prompts that errored and why."""
    with sessions()() as session:
        job = get_job(session, job_id)
        p = jobs.progress(session, job)
        errored = jobs.errored_prompts(session, job)
    console.print_json(json.dumps({**p.__dict__, "errors": errored}))


@app.command("list")
def list_() -> None:
    """List jobs."""
    table = Table("id", "name", "strategy", "seeds", "model", "status")
    with sessions()() as session:
        for j in session.scalars(select(Job).order_by(Job.id)):
            table.add_row(str(j.id), j.name, j.strategy, str(j.seed_set_id), j.model, j.status)
    console.print(table)
