"""`factory worker`: a Celery worker on the configured broker."""

from __future__ import annotations

import os

import typer

from factory.cli.common import fail, settings


def worker(queues: str = typer.Option("generate,verify,sandbox", help="comma-separated"),
           concurrency: int = typer.Option(1, help="processes"),
           pool: str = typer.Option("prefork", help="prefork, solo or threads"),
           loglevel: str = "info",
           name: str | None = typer.Option(None, help="node name [QUEUES-PID@HOST]")) -> None:
    """Start a worker consuming QUEUES from the broker (FACTORY_BROKER_URL). SIGTERM is a warm
    shutdown: the task in hand finishes, tasks taken but not started go back to the broker."""
    if not settings().broker_url:
        raise fail("FACTORY_BROKER_URL is not set; without a broker jobs run in-process")
    from workers.app import app as celery_app

    # Unique per process, so several workers on one host are told apart (status, Flower).
    node = name or f"{queues.replace(',', '+')}-{os.getpid()}@%h"
    celery_app.worker_main(["worker", "-Q", queues, "-c", str(concurrency), "-P", pool,
                            "-l", loglevel, "-n", node, "--without-gossip", "--without-mingle"])
