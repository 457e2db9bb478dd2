"""`factory worker`: a Celery worker on the configured broker."""

from __future__ import annotations

import typer

from factory.cli.common import fail, settings


def worker(queues: str = typer.Option("generate,verify,sandbox", help="comma-separated"),
           concurrency: int = typer.Option(1, help="processes"),
           pool: str = typer.Option("prefork", help="prefork, solo or threads"),
           loglevel: str = "info") -> None:
    """Start a worker consuming QUEUES from the broker (FACTORY_BROKER_URL)."""
    if not settings().broker_url:
        raise fail("FACTORY_BROKER_URL is not set; without a broker jobs run in-process")
    from workers.app import app as celery_app

    celery_app.worker_main(["worker", "-Q", queues, "-c", str(concurrency), "-P", pool,
                            "-l", loglevel, "--without-gossip", "--without-mingle"])
