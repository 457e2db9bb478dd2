"""Running steps: in this process (the embedded default) or by sending them to a broker.

Both paths call the same :func:`factory.stages.run_step`; only who runs the next step differs.
Failures are written to the store (batch error, job status) before they propagate, so
`factory job status` tells what went wrong and `factory job run` picks up from there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from db.base import utcnow
from db.models import Batch, Job
from factory.config import Settings
from factory.jobs import Step
from factory.llm import LLM, connect
from factory.stages import run_step


class Dispatcher(Protocol):
    def send(self, steps: list[Step]) -> None: ...


def record_attempt(sessions: sessionmaker[Session], step: Step) -> int:
    """Count a failed attempt at the batch's current step; the count bounds retries across
    redeliveries and sweeps (``step_attempts``), and a resume starts it again. The retry about
    to be sent counts as a send, so the sweep does not send another copy meanwhile. A stale
    copy's failure counts for nothing (0)."""
    with sessions.begin() as session:
        attempts = session.scalar(update(Batch).where(Batch.id == step.batch_id,
                                                      Batch.stage == step.stage,
                                                      Batch.round == step.round)
                                  .values(attempts=Batch.attempts + 1, sent_at=utcnow())
                                  .returning(Batch.attempts)
                                  .execution_options(synchronize_session=False))
    return attempts or 0


def record_failure(sessions: sessionmaker[Session], step: Step, exc: BaseException) -> None:
    """Give the batch up: its error is kept and the job fails, to be resumed."""
    message = f"{type(exc).__name__}: {exc}"
    with sessions.begin() as session:
        batch = session.get(Batch, step.batch_id)
        if batch is None or (batch.stage, batch.round) != (step.stage, step.round):
            return  # a stale copy failed: the batch has moved on without it
        batch.error = message
        job = session.get_one(Job, batch.job_id)
        if job.status == "running":
            job.status, job.error = "failed", f"batch {batch.index} ({step.stage}): {message}"


class InProcess:
    """Runs every step here, ``parallel`` at a time (threads: each step waits on the model
    or the sandbox, so several batches keep the server's batch full while one is verified or
    asks its next round for a few prompts); ``on_step`` sees each finished step, in this
    thread. The first failure is recorded and raised once the steps in flight have ended."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings,
                 on_step: Callable[[Step], None] | None = None,
                 parallel: int | None = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.llm_factory: Callable[[], LLM] = lambda: connect(settings)
        self.on_step = on_step
        self.lease_s = settings.lease_s
        self.parallel = parallel or settings.steps_in_flight

    def _run(self, step: Step) -> Step | None:
        try:
            return run_step(self.sessions, step, self.llm_factory, self.lease_s, self.settings)
        except Exception as exc:
            record_failure(self.sessions, step, exc)
            raise

    def send(self, steps: list[Step]) -> None:
        if self.parallel == 1:
            self._send_here(steps)
            return
        queue, failure = deque(steps), None
        with ThreadPoolExecutor(self.parallel, thread_name_prefix="step") as pool:
            running: dict[Future[Step | None], Step] = {}
            while queue or running:
                while queue and failure is None and len(running) < self.parallel:
                    step = queue.popleft()
                    running[pool.submit(self._run, step)] = step
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    step = running.pop(future)
                    try:
                        nxt = future.result()
                    except Exception as exc:
                        failure = failure or exc
                        continue
                    if self.on_step is not None:
                        self.on_step(step)
                    if nxt is not None:
                        queue.append(nxt)
        if failure is not None:
            raise failure

    def _send_here(self, steps: list[Step]) -> None:
        """One step at a time, in this thread."""
        queue = deque(steps)
        while queue:
            step = queue.popleft()
            nxt = self._run(step)
            if self.on_step is not None:
                self.on_step(step)
            if nxt is not None:
                queue.append(nxt)
