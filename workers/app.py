"""The Celery app. Tasks are idempotent (see factory.stages), so they are acked late: a worker
killed mid-task leaves its messages to be redelivered (at once if a prefork pool notices the lost
child - task_reject_on_worker_lost - else after Redis's visibility timeout, or sooner by another
worker's sweep once the step's lease lapses, see workers.sweeper), and a duplicate delivery is a
no-op. Generate workers run steps in threads (`factory worker`), checks in processes."""

from __future__ import annotations

import threading

from celery import Celery
from celery.signals import worker_process_shutdown, worker_ready, worker_shutdown

from factory.config import get_settings
from factory.jobs import QUEUES
from factory.sandbox_service import close_sandbox_pool


def make_app() -> Celery:
    settings = get_settings()
    app = Celery("factory", broker=settings.broker_url or "redis://127.0.0.1:6379/0",
                 include=["workers.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue="generate",
        task_queues_max_priority=None,
        task_create_missing_queues=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    app.conf.task_routes = {f"factory.{q}": {"queue": q} for q in QUEUES}
    return app


app = make_app()


@worker_process_shutdown.connect
def _close_sandbox(**_: object) -> None:
    # Prefork children exit without running atexit hooks: remove their containers here.
    close_sandbox_pool()


_sweeping: list[threading.Event] = []


@worker_ready.connect
def _start_sweep(**_: object) -> None:
    # In the worker's main process: look for stranded steps now and then (workers.sweeper).
    from workers import sweeper

    _sweeping.append(sweeper.start(get_settings()))


@worker_shutdown.connect
def _stop_sweep(**_: object) -> None:
    for stop in _sweeping:
        stop.set()
