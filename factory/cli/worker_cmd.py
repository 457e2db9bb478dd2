"""`factory worker`: a Celery worker on the configured broker."""

from __future__ import annotations

import os

import typer

from factory.cli.common import fail, settings


def pool_for(queues: list[str], pool: str, concurrency: int | None,
             steps_in_flight: int) -> tuple[str, int]:
    """The pool and its size when left to ``auto``: a worker that takes generate steps runs
    them in threads, ``steps_in_flight`` at once, because each waits on the model server and
    one batch at a time leaves a GPU's batch nearly empty between rounds (bench/RESULTS.md);
    a worker of checks only runs a process per core, because checks use the CPU."""
    if pool == "auto":
        pool = "threads" if "generate" in queues else "prefork"
    if concurrency is None:
        concurrency = steps_in_flight if pool == "threads" else (os.cpu_count() or 1)
    return pool, concurrency


def worker(queues: str = typer.Option("generate,verify,sandbox", help="comma-separated"),
           concurrency: int | None = typer.Option(
               None, help="steps at once (threads: FACTORY_STEPS_IN_FLIGHT; prefork: cores)"),
           pool: str = typer.Option("auto", help="auto, threads, prefork or solo (auto: "
                                                 "threads if QUEUES has generate, else prefork)"),
           loglevel: str = "info",
           name: str | None = typer.Option(None, help="node name [QUEUES-PID@HOST]")) -> None:
    """Start a worker consuming QUEUES from the broker (FACTORY_BROKER_URL). SIGTERM is a warm
    shutdown: the tasks in hand finish, tasks taken but not started go back to the broker."""
    config = settings()
    if not config.broker_url:
        raise fail("FACTORY_BROKER_URL is not set; without a broker jobs run in-process")
    if pool not in {"auto", "threads", "prefork", "solo"}:
        raise fail(f"unknown pool {pool!r}: auto, threads, prefork or solo")
    from workers.app import app as celery_app

    pool, size = pool_for([q.strip() for q in queues.split(",")], pool, concurrency,
                          config.steps_in_flight)
    # Unique per process, so several workers on one host are told apart (status, Flower).
    node = name or f"{queues.replace(',', '+')}-{os.getpid()}@%h"
    celery_app.worker_main(["worker", "-Q", queues, "-c", str(size), "-P", pool,
                            "-l", loglevel, "-n", node, "--without-gossip", "--without-mingle"])
