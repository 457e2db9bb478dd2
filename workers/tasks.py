"""Thin Celery tasks: run one step of a batch, then send the step that follows.

A step that fails for a passing reason (the model server or the store unreachable) is retried
with backoff until the batch has failed ``step_attempts`` times, counted in the store so that
redeliveries and sweeps count too; then the job fails with the reason, to be resumed.
"""

from __future__ import annotations

import random

from celery import Task
from sqlalchemy.exc import OperationalError

from db.session import sessionmaker_for
from factory.config import get_settings
from factory.jobs import Step
from factory.llm import LLMUnavailable, connect
from factory.runner import record_attempt, record_failure
from factory.stages import run_step
from verifiers.sandbox import SandboxBusy
from workers.app import app

RETRYABLE = (LLMUnavailable, OperationalError, SandboxBusy)
BACKOFF_MAX_S = 300.0
UNCOUNTED_RETRIES = 30  # retries while even the attempt count cannot be stored


def _run(task: Task, stage: str, batch_id: int, round: int, queue: str) -> None:
    settings = get_settings()
    sessions = sessionmaker_for(settings.database_url)
    step = Step(stage, batch_id, round, queue)
    try:
        nxt = run_step(sessions, step, lambda: connect(settings), settings.lease_s, settings)
    except RETRYABLE as exc:
        try:
            attempts = record_attempt(sessions, step)
        except OperationalError:  # the store is down too: retry, bounded by the message
            attempts = None
        exhausted = attempts >= settings.step_attempts if attempts is not None \
            else task.request.retries >= UNCOUNTED_RETRIES
        if not exhausted:
            delay = min(BACKOFF_MAX_S, settings.step_retry_base_s * 2 ** task.request.retries)
            raise task.retry(exc=exc, countdown=random.uniform(delay / 2, delay),
                             max_retries=None) from exc
        record_failure(sessions, step, exc)
        raise
    except Exception as exc:
        record_failure(sessions, step, exc)
        raise
    if nxt is not None:
        send([nxt])


@app.task(bind=True, name="factory.generate")
def generate(self: Task, stage: str, batch_id: int, round: int, queue: str) -> None:
    _run(self, stage, batch_id, round, queue)


@app.task(bind=True, name="factory.verify")
def verify(self: Task, stage: str, batch_id: int, round: int, queue: str) -> None:
    _run(self, stage, batch_id, round, queue)


@app.task(bind=True, name="factory.sandbox")
def sandbox(self: Task, stage: str, batch_id: int, round: int, queue: str) -> None:
    _run(self, stage, batch_id, round, queue)


TASKS = {"generate": generate, "verify": verify, "sandbox": sandbox}


def send(steps: list[Step]) -> None:
    for step in steps:
        TASKS[step.queue].apply_async(args=[step.stage, step.batch_id, step.round, step.queue],
                                      queue=step.queue)


class CeleryDispatcher:
    def send(self, steps: list[Step]) -> None:
        send(steps)
