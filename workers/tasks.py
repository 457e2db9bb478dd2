"""Thin Celery tasks: run one step of a batch, then send the step that follows."""

from __future__ import annotations

from typing import Any

from celery import Task
from sqlalchemy.exc import OperationalError

from db.session import sessionmaker_for
from factory.config import get_settings
from factory.jobs import Step
from factory.llm import LLMUnavailable, connect
from factory.runner import record_failure
from factory.stages import run_step
from workers.app import app

RETRYABLE = (LLMUnavailable, OperationalError)


class StepTask(Task):
    autoretry_for = RETRYABLE
    retry_backoff = 5
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 5

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any,
                   einfo: Any) -> None:
        settings = get_settings()
        record_failure(sessionmaker_for(settings.database_url), Step(*args), exc)


def _run(stage: str, batch_id: int, round: int, queue: str) -> None:
    settings = get_settings()
    sessions = sessionmaker_for(settings.database_url)
    nxt = run_step(sessions, Step(stage, batch_id, round, queue), lambda: connect(settings))
    if nxt is not None:
        send([nxt])


@app.task(base=StepTask, name="factory.generate")
def generate(stage: str, batch_id: int, round: int, queue: str) -> None:
    _run(stage, batch_id, round, queue)


@app.task(base=StepTask, name="factory.verify")
def verify(stage: str, batch_id: int, round: int, queue: str) -> None:
    _run(stage, batch_id, round, queue)


@app.task(base=StepTask, name="factory.sandbox")
def sandbox(stage: str, batch_id: int, round: int, queue: str) -> None:
    _run(stage, batch_id, round, queue)


TASKS = {"generate": generate, "verify": verify, "sandbox": sandbox}


def send(steps: list[Step]) -> None:
    for step in steps:
        TASKS[step.queue].apply_async(args=[step.stage, step.batch_id, step.round, step.queue],
                                      queue=step.queue)


class CeleryDispatcher:
    def send(self, steps: list[Step]) -> None:
        send(steps)
