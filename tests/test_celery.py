"""Jobs on real Celery workers over the real Redis broker and PostgreSQL store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import Batch, Job
from db.session import sessionmaker_for
from factory import jobs
from factory.config import Settings
from factory.runner import InProcess
from tests.helpers import make_job, snapshot

FACTORY = str(Path(sys.executable).parent / "factory")


def env_for(db_url: str, broker: str, llm: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTORY_")}
    return {**env, "FACTORY_DATABASE_URL": db_url, "FACTORY_BROKER_URL": broker,
            "FACTORY_LLM_BASE_URL": llm}


class Workers:
    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env, self.logdir, self.procs = env, logdir, []

    def start(self) -> subprocess.Popen:
        log = (self.logdir / f"worker{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([FACTORY, "worker", "--queues", "generate,verify",
                                 "--concurrency", "1", "--loglevel", "warning"],
                                env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def kill9(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[type[Workers]]:
    made: list[Workers] = []

    def factory(env: dict[str, str]) -> Workers:
        w = Workers(env, tmp_path)
        made.append(w)
        return w

    yield factory  # type: ignore[misc]
    for w in made:
        w.stop_all()


def cli(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([FACTORY, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def embedded_reference(tmp_path: Path, sqlite_url: str, count: int, **params) -> dict:
    sessions = sessionmaker_for(sqlite_url)
    job_id = make_job(sessions, tmp_path, count=count, **params)
    with sessions.begin() as s:
        steps = jobs.start(s, s.get_one(Job, job_id))
    InProcess(sessions, Settings(llm_base_url="scripted://arithmetic")).send(steps)
    return snapshot(sessions, job_id)


def test_celery_on_redis_and_postgres_gives_the_same_rows_as_embedded(
        tmp_path: Path, sqlite_url: str, pg_url: str, redis_url: str, workers) -> None:
    reference = embedded_reference(tmp_path, sqlite_url, 24, batch_size=4)
    pg = sessionmaker_for(pg_url)
    job_id = make_job(pg, tmp_path, count=24, batch_size=4)
    env = env_for(pg_url, redis_url, "scripted://arithmetic")
    w = workers(env)
    w.start()
    result = cli(env, "job", "run", str(job_id))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "done" in result.stdout
    assert snapshot(pg, job_id) == reference


def test_worker_killed_mid_job_then_resumed_loses_and_duplicates_nothing(
        tmp_path: Path, sqlite_url: str, pg_url: str, redis_url: str, workers) -> None:
    reference = embedded_reference(tmp_path, sqlite_url, 30, batch_size=3)
    pg = sessionmaker_for(pg_url)
    job_id = make_job(pg, tmp_path, count=30, batch_size=3)
    env = env_for(pg_url, redis_url, "scripted://arithmetic?delay=0.4")
    w = workers(env)
    first = w.start()
    sent = cli(env, "job", "run", str(job_id), "--no-wait")
    assert sent.returncode == 0, sent.stderr

    def done_batches() -> int:
        with pg() as s:
            return s.scalar(select(func.count()).select_from(Batch)
                            .where(Batch.job_id == job_id, Batch.stage == "done"))

    deadline = time.monotonic() + 120
    while done_batches() < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    w.kill9(first)
    assert 2 <= done_batches() < 10, "the worker must die in the middle of the job"

    w.start()
    resumed = cli(env, "job", "resume", str(job_id))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert snapshot(pg, job_id) == reference
