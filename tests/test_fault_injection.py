"""Fault injection on the real parts: vLLM, Redis (AOF on, as compose runs it), PostgreSQL and
Celery workers. Each fault hits a running job; each job must still finish, with the same
samples, SFT lines and pairs as an undisturbed reference run: 0 lost, 0 duplicated. Nobody
follows these jobs with `factory job run`: the workers' own sweep recovers what a fault strands.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import Batch, Generation, Job
from db.session import sessionmaker_for
from factory import jobs
from factory.config import Settings
from factory.runner import InProcess
from factory.seeds import SeedKind
from tests.conftest import Served, Workers, env_for, free_port
from tests.helpers import make_job, seed_job, snapshot

PARAMS = {"batch_size": 2, "max_samples": 4, "max_tokens": 48}
COUNT = 12
MODEL = "tiny-qwen2"


def reference(tmp_path: Path, llm_url: str, count: int = COUNT, **params) -> dict:
    """The same job, undisturbed: in-process on SQLite against the same model."""
    sessions = sessionmaker_for(_sqlite(tmp_path / "reference.db"))
    job_id = make_job(sessions, tmp_path, count=count, model=MODEL, **{**PARAMS, **params})
    with sessions.begin() as s:
        steps = jobs.start(s, s.get_one(Job, job_id))
    InProcess(sessions, Settings(llm_base_url=llm_url)).send(steps)
    return snapshot(sessions, job_id)


def _sqlite(path: Path) -> str:
    from db.migrate import upgrade

    url = f"sqlite:///{path}"
    upgrade(url)
    return url


def send(env: dict[str, str], job_id: int) -> None:
    sent = subprocess.run([str(Path(sys.executable).parent / "factory"), "job", "run",
                           str(job_id), "--no-wait", "--wait-for-workers"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert sent.returncode == 0, sent.stdout + sent.stderr


def wait_done(pg, job_id: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with pg() as s:
            job = s.get_one(Job, job_id)
            if job.status != "running":
                break
        time.sleep(0.5)
    assert job.status == "done", (job.status, job.error)


def wait_for(pg, job_id: int, done_batches: int = 0, samples: int = 0,
             timeout_s: float = 180) -> None:
    """Until the job is that far along (so a fault hits it in the middle)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with pg() as s:
            done = s.scalar(select(func.count()).select_from(Batch).where(
                Batch.job_id == job_id, Batch.stage == "done"))
            gens = s.scalar(select(func.count()).select_from(Generation)
                            .where(Generation.job_id == job_id))
        if done >= done_batches and gens >= samples:
            return
        time.sleep(0.1)
    pytest.fail(f"job {job_id} did not reach {done_batches} batches / {samples} samples")


def not_finished(pg, job_id: int) -> bool:
    with pg() as s:
        return s.get_one(Job, job_id).status == "running"


KILLER = '''
import os, signal, sys
from pathlib import Path
import workers.tasks as tasks
marker, real = Path(sys.argv[1]), tasks.send
def send(steps):
    if steps and not marker.exists():  # a stage committed its step: die before sending it
        marker.write_text("killed")
        os.killpg(0, signal.SIGKILL)
    real(steps)
tasks.send = send
from factory.cli.main import app
sys.argv = ["factory", "worker", "--queues", "generate,verify", "--concurrency", "1",
            "--loglevel", "warning"]
app()
'''


def test_worker_killed_between_commit_and_send(vllm_url, pg_url, redis_url, workers,
                                               tmp_path: Path) -> None:
    want = reference(tmp_path, vllm_url)
    pg = sessionmaker_for(pg_url)
    job_id = make_job(pg, tmp_path, count=COUNT, model=MODEL, **PARAMS)
    env = env_for(pg_url, redis_url, vllm_url)
    w: Workers = workers(env)
    marker = tmp_path / "killed"
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    log = (tmp_path / "killer.log").open("wb")
    killer = subprocess.Popen([sys.executable, str(script), str(marker)], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    w.procs.append(killer)
    send(env, job_id)
    assert killer.wait(120) == -9 and marker.exists()  # died right after its first commit
    with pg() as s:
        moved = s.scalar(select(func.count()).select_from(Batch).where(
            Batch.job_id == job_id, Batch.stage != "generate"))
    assert moved >= 1  # the committed step is in the store, its message was never sent
    w.start("generate,verify")
    wait_done(pg, job_id)
    assert snapshot(pg, job_id) == want


def test_two_workers_finishing_the_last_batches_at_once(vllm_url, pg_url, redis_url, workers,
                                                        tmp_path: Path) -> None:
    want = reference(tmp_path, vllm_url, batch_size=1)
    pg = sessionmaker_for(pg_url)
    env = env_for(pg_url, redis_url, vllm_url)
    w = workers(env)
    w.start("generate,verify")
    w.start("generate,verify")
    for _ in range(3):
        job_id = make_job(pg, tmp_path, count=COUNT, model=MODEL, **{**PARAMS, "batch_size": 1})
        send(env, job_id)
        wait_done(pg, job_id, timeout_s=240)
        assert snapshot(pg, job_id) == want


def test_one_prompt_longer_than_the_context(vllm_url, pg_url, redis_url, workers,
                                           tmp_path: Path) -> None:
    lines = (Path(__file__).parent.parent / "factory/data/arithmetic.jsonl").read_text()
    records = [json.loads(line) for line in lines.splitlines()[:COUNT]]
    want = reference(tmp_path, vllm_url)
    records[3]["problem"] += " Please show every step of your work." * 600
    pg = sessionmaker_for(pg_url)
    job_id = seed_job(pg, tmp_path / "long.jsonl", "math", SeedKind.math, records, model=MODEL,
                      **PARAMS)
    env = env_for(pg_url, redis_url, vllm_url)
    workers(env).start("generate,verify")
    send(env, job_id)
    wait_done(pg, job_id)
    with pg() as s:
        errors = jobs.errored_prompts(s, s.get_one(Job, job_id))
    assert [e["seed_line"] for e in errors] == [4]
    assert "HTTP 400" in errors[0]["error"], errors  # the server's own reason
    got = snapshot(pg, job_id)
    assert got["generations"] == [r for r in want["generations"] if not r.startswith("[3,")]
    for part in ("sft", "pairs"):
        assert got[part] == [r for r in want[part] if not r.startswith("[3,")
                             and records[3]["problem"].split("?")[0] not in r], part


@pytest.fixture
def redis_aof(tmp_path: Path):
    """A Redis of the test's own with AOF on, so it can be restarted."""
    port, data = free_port(), tmp_path / "redis"
    data.mkdir()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
           "--appendfsync", "always", "--save", "", "--dir", str(data)]

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                return proc
            time.sleep(0.1)
        pytest.fail("redis-server did not start")

    state = {"proc": start()}

    def restart(down_s: float = 3.0) -> None:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown"], capture_output=True)
        state["proc"].wait(20)
        time.sleep(down_s)
        state["proc"] = start()

    yield f"redis://127.0.0.1:{port}/0", restart
    state["proc"].kill()
    state["proc"].wait(10)


def test_redis_restarted_mid_job(vllm_url, pg_url, redis_aof, workers, tmp_path: Path) -> None:
    broker, restart = redis_aof
    want = reference(tmp_path, vllm_url)
    pg = sessionmaker_for(pg_url)
    job_id = make_job(pg, tmp_path, count=COUNT, model=MODEL, **PARAMS)
    env = env_for(pg_url, broker, vllm_url)
    workers(env).start("generate,verify")
    send(env, job_id)
    wait_for(pg, job_id, done_batches=1)
    assert not_finished(pg, job_id)
    restart()
    wait_done(pg, job_id)
    assert snapshot(pg, job_id) == want


def test_postgresql_restarted_mid_job(vllm_url, pg_url, redis_url, workers,
                                      tmp_path: Path) -> None:
    want = reference(tmp_path, vllm_url)
    pg = sessionmaker_for(pg_url)
    job_id = make_job(pg, tmp_path, count=COUNT, model=MODEL, **PARAMS)
    env = env_for(pg_url, redis_url, vllm_url)
    workers(env).start("generate,verify")
    send(env, job_id)
    wait_for(pg, job_id, done_batches=1)
    assert not_finished(pg, job_id)
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, capture_output=True, timeout=120)
    wait_done(pg, job_id)
    assert snapshot(pg, job_id) == want


def test_vllm_killed_mid_job_and_restarted(vllm_server: Served, pg_url, redis_url, workers,
                                           tmp_path: Path) -> None:
    """The session's server itself is killed and started again on its port (a server of the
    test's own would cost one more start of vLLM), so later tests have it back."""
    want = reference(tmp_path, vllm_server.url)
    pg = sessionmaker_for(pg_url)
    job_id = make_job(pg, tmp_path, count=COUNT, model=MODEL, **PARAMS)
    env = env_for(pg_url, redis_url, vllm_server.url)
    workers(env).start("generate,verify")
    send(env, job_id)
    wait_for(pg, job_id, samples=8)
    assert not_finished(pg, job_id)
    vllm_server.kill()
    vllm_server.start()  # the workers' requests fail for as long as it takes to start
    wait_done(pg, job_id, timeout_s=400)
    assert snapshot(pg, job_id) == want
