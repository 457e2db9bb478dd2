"""Jobs on real Celery workers over the real Redis broker and PostgreSQL store."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from db.models import Batch, Job
from db.session import sessionmaker_for
from factory import jobs
from factory.config import Settings
from factory.runner import InProcess
from tests.conftest import Workers, cli, env_for
from tests.helpers import make_job, snapshot
from workers.inspect import queue_depths

# one step at a time in a child process, and `factory worker`'s defaults (threads, 8 steps)
SHAPES = {"prefork-1": ("--pool", "prefork", "--concurrency", "1"), "defaults": ()}
shapes = pytest.mark.parametrize("shape", list(SHAPES))


def embedded_reference(tmp_path: Path, sqlite_url: str, count: int, **params) -> dict:
    sessions = sessionmaker_for(sqlite_url)
    job_id = make_job(sessions, tmp_path, count=count, **params)
    with sessions.begin() as s:
        steps = jobs.start(s, s.get_one(Job, job_id))
    InProcess(sessions, Settings(llm_base_url="scripted://arithmetic")).send(steps)
    return snapshot(sessions, job_id)


def test_celery_on_redis_and_postgres_gives_the_same_rows_as_embedded(
        tmp_path: Path, sqlite_url: str, pg_url: str, redis_url: str, workers) -> None:
    """With `factory worker`'s defaults: many steps at once in one process's threads."""
    reference = embedded_reference(tmp_path, sqlite_url, 24, batch_size=4)
    pg = sessionmaker_for(pg_url)
    job_id = make_job(pg, tmp_path, count=24, batch_size=4)
    env = env_for(pg_url, redis_url, "scripted://arithmetic")
    w = workers(env)
    w.start(options=())
    result = cli(env, "job", "run", str(job_id))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "done" in result.stdout
    assert snapshot(pg, job_id) == reference


@dataclass
class Midway:
    """A 30-problem job on one worker, caught with 2+ of its 10 batches done."""

    reference: dict
    pg: sessionmaker
    job_id: int
    env: dict[str, str]
    workers: Workers
    first: subprocess.Popen
    options: tuple[str, ...]

    def done_batches(self) -> int:
        with self.pg() as s:
            return s.scalar(select(func.count()).select_from(Batch)
                            .where(Batch.job_id == self.job_id, Batch.stage == "done"))


def midway(tmp_path: Path, sqlite_url: str, pg_url: str, redis_url: str, workers,
           shape: str) -> Midway:
    reference = embedded_reference(tmp_path, sqlite_url, 30, batch_size=3)
    pg = sessionmaker_for(pg_url)
    job_id = make_job(pg, tmp_path, count=30, batch_size=3)
    env = env_for(pg_url, redis_url, "scripted://arithmetic?delay=0.4")
    w = workers(env)
    m = Midway(reference, pg, job_id, env, w, w.start(options=SHAPES[shape]), SHAPES[shape])
    sent = cli(env, "job", "run", str(job_id), "--no-wait")
    assert sent.returncode == 0, sent.stderr
    deadline = time.monotonic() + 120
    while m.done_batches() < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    return m


@shapes
def test_worker_killed_mid_job_then_resumed_loses_and_duplicates_nothing(
        tmp_path: Path, sqlite_url: str, pg_url: str, redis_url: str, workers, shape) -> None:
    m = midway(tmp_path, sqlite_url, pg_url, redis_url, workers, shape)
    m.workers.kill9(m.first)
    assert 2 <= m.done_batches() < 10, "the worker must die in the middle of the job"

    m.workers.start(options=m.options)
    resumed = cli(m.env, "job", "resume", str(m.job_id))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert snapshot(m.pg, m.job_id) == m.reference


@shapes
def test_a_worker_stopped_with_sigterm_finishes_its_task_and_loses_nothing(
        tmp_path: Path, sqlite_url: str, pg_url: str, redis_url: str, workers, shape) -> None:
    """Warm shutdown: the running task completes, messages taken but not started go back to
    Redis, and a new worker finishes the job from the queue alone (no resume, no sweep)."""
    m = midway(tmp_path, sqlite_url, pg_url, redis_url, workers, shape)
    os.kill(m.first.pid, signal.SIGTERM)
    assert m.first.wait(60) == 0  # it stops by itself once its task is done
    assert 2 <= m.done_batches() < 10, "the worker must stop in the middle of the job"
    depths, unacked = queue_depths(redis_url)
    assert sum(depths.values()) >= 1 and unacked == 0  # the rest waits in Redis, none held
    status = cli(m.env, "status")
    assert status.returncode == 0 and "0 alive" in status.stdout, status.stdout + status.stderr

    m.workers.start(options=m.options)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with m.pg() as s:
            if s.get_one(Job, m.job_id).status == "done":
                break
        time.sleep(0.5)
    assert snapshot(m.pg, m.job_id) == m.reference
    status = cli(m.env, "status", "--window", "600")
    assert "1 alive" in status.stdout and "math" in status.stdout, status.stdout
