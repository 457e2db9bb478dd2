"""The job machinery under faults, step by step (scripted model; SQLite and PostgreSQL):
completion when the last batches finish at once, leases against duplicate work, the sweep of
stranded steps, and a prompt the server refuses."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

from sqlalchemy import select

from db.models import Batch, Job, Prompt
from db.session import sessionmaker_for
from factory import jobs, stages
from factory.config import Settings
from factory.llm.scripted import ScriptedLLM
from factory.runner import InProcess
from factory.seeds import SeedKind
from factory.stages import run_step
from factory.sweep import claim_stranded
from tests.conftest import cli, env_for
from tests.helpers import make_job, seed_job, snapshot


def chain(sessions, step, llm_factory, lease_s: float = 60.0) -> None:
    while step is not None:
        step = run_step(sessions, step, llm_factory, lease_s)


def test_last_two_batches_finishing_at_once_finish_the_job(pg_url: str, tmp_path: Path,
                                                          monkeypatch) -> None:
    """Both final verifies reach the completion check together, neither committed: the job
    must still end done (under READ COMMITTED each sees the other's batch open)."""
    pg = sessionmaker_for(pg_url)
    real = stages._finish_job_if_complete
    for attempt in range(3):
        job_id = make_job(pg, tmp_path, count=4, batch_size=2, max_samples=4)
        together = threading.Barrier(2, timeout=5)

        def in_step(session, job_id, together=together):
            with contextlib.suppress(threading.BrokenBarrierError):
                together.wait()
            real(session, job_id)

        monkeypatch.setattr(stages, "_finish_job_if_complete", in_step)
        with pg.begin() as s:
            first, second = jobs.start(s, s.get_one(Job, job_id))
        llm = lambda: ScriptedLLM.named("arithmetic")  # noqa: E731
        threads = [threading.Thread(target=chain, args=(pg, step, llm)) for step in
                   (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        with pg() as s:
            assert s.get_one(Job, job_id).status == "done", f"attempt {attempt}"


def test_a_second_delivery_leaves_a_leased_step_alone_and_the_sweep_too(
        sessions, tmp_path: Path) -> None:
    job_id = make_job(sessions, tmp_path, count=4, batch_size=4)
    with sessions.begin() as s:
        (step,) = jobs.start(s, s.get_one(Job, job_id))
    slow = ScriptedLLM.named("arithmetic", delay_s=1.5)
    other = ScriptedLLM.named("arithmetic")
    out: list = []
    # a lease of 0.3 s outlives a 1.5 s step only through its heartbeat
    worker = threading.Thread(target=lambda: out.append(run_step(sessions, step, lambda: slow,
                                                                 0.3)))
    worker.start()
    time.sleep(0.8)
    assert run_step(sessions, step, lambda: other, 0.3) is None and other.calls == 0
    with sessions.begin() as s:
        assert claim_stranded(s, stale_s=0) == []
    worker.join(30)
    assert out[0] is not None and out[0].stage == "judge" and slow.calls == 4
    with sessions() as s:
        batch = s.get_one(Batch, step.batch_id)
        assert (batch.stage, batch.lease_owner, batch.lease_until) == ("judge", None, None)


def test_a_step_lost_between_commit_and_send_is_swept_once(sessions, tmp_path: Path) -> None:
    reference = make_job(sessions, tmp_path, count=6, batch_size=3)
    InProcess(sessions, Settings(llm_base_url="scripted://arithmetic")).send(
        _start(sessions, reference))
    job_id = make_job(sessions, tmp_path, count=6, batch_size=3)
    first, second = _start(sessions, job_id)
    llm = lambda: ScriptedLLM.named("arithmetic")  # noqa: E731
    lost = run_step(sessions, first, llm)  # committed; the worker dies before sending it
    assert lost is not None
    chain(sessions, second, llm)
    with sessions.begin() as s:
        assert claim_stranded(s, stale_s=3600) == []  # sent a moment ago: not stranded yet
        swept = claim_stranded(s, stale_s=0)
    assert swept == [lost]
    with sessions.begin() as s:
        assert claim_stranded(s, stale_s=0.5) == []  # claimed: nobody sends it twice
    chain(sessions, swept[0], llm)
    assert snapshot(sessions, job_id) == snapshot(sessions, reference)


def _start(sessions, job_id: int):
    with sessions.begin() as s:
        return jobs.start(s, s.get_one(Job, job_id))


PADDING = " Please show every step of your work and explain it carefully." * 30


def test_a_prompt_the_server_refuses_is_set_aside_and_retried(store_url: str,
                                                             tmp_path: Path) -> None:
    sessions = sessionmaker_for(store_url)
    lines = (Path(__file__).parent.parent / "factory/data/arithmetic.jsonl").read_text()
    records = [json.loads(line) for line in lines.splitlines()[:8]]
    records[5]["problem"] += PADDING
    params = {"batch_size": 4, "max_samples": 8}
    reference = seed_job(sessions, tmp_path / "a.jsonl", "math", SeedKind.math, records,
                         **params)
    InProcess(sessions, Settings(llm_base_url="scripted://arithmetic")).send(
        _start(sessions, reference))

    job_id = seed_job(sessions, tmp_path / "b.jsonl", "math", SeedKind.math, records, **params)
    short = Settings(llm_base_url="scripted://arithmetic?context=200")
    InProcess(sessions, short).send(_start(sessions, job_id))
    with sessions() as s:
        job = s.get_one(Job, job_id)
        assert job.status == "done"
        errors = jobs.errored_prompts(s, job)
    assert len(errors) == 1 and errors[0]["seed_line"] == 6 and errors[0]["round"] == 0
    assert "HTTP 400" in errors[0]["error"] and "context length" in errors[0]["error"]
    got, want = snapshot(sessions, job_id), snapshot(sessions, reference)
    refused = {"generations": lambda row: row.startswith("[5,"),  # its seed ordinal
               "sft": lambda row: "Please show every step" in row,
               "pairs": lambda row: "Please show every step" in row}
    for part, of_refused in refused.items():  # every other prompt's rows, unchanged
        assert got[part] and not any(of_refused(row) for row in got[part]), part
        assert got[part] == [row for row in want[part] if not of_refused(row)], part

    with sessions.begin() as s:
        assert jobs.retry_errored(s, s.get_one(Job, job_id)) == 1
    InProcess(sessions, Settings(llm_base_url="scripted://arithmetic")).send(
        _start(sessions, job_id))
    assert snapshot(sessions, job_id) == snapshot(sessions, reference)
    with sessions() as s:
        assert s.scalar(select(Prompt.error).where(Prompt.job_id == job_id,
                                                   Prompt.error.is_not(None))) is None


def test_job_run_says_when_no_worker_consumes_its_queues(pg_url: str, redis_url: str,
                                                         tmp_path: Path) -> None:
    pg = sessionmaker_for(pg_url)
    job_id = make_job(pg, tmp_path, count=4)
    # the grace for a starting worker (20 s by default) is waited out in full when none comes
    env = {**env_for(pg_url, redis_url, "scripted://arithmetic"), "FACTORY_WORKER_GRACE_S": "1"}
    ran = cli(env, "job", "run", str(job_id), timeout=60)
    assert ran.returncode == 1
    assert "no worker is consuming queue(s) generate, verify" in ran.stderr
    assert "factory worker --queues generate,verify" in ran.stderr
    with pg() as s:
        assert s.get_one(Job, job_id).status == "created"  # nothing was sent
    sent = cli(env, "job", "run", str(job_id), "--wait-for-workers", "--no-wait", timeout=60)
    assert sent.returncode == 0 and "waiting" in sent.stdout, sent.stdout + sent.stderr
    with pg() as s:
        assert s.get_one(Job, job_id).status == "running"



def test_a_step_whose_worker_died_is_swept_once_its_lease_lapses(sessions,
                                                                   tmp_path: Path) -> None:
    from factory import leases

    job_id = make_job(sessions, tmp_path, count=4, batch_size=4)
    (step,) = _start(sessions, job_id)
    with sessions.begin() as s:  # a worker takes the step, then dies: no heartbeat, no release
        assert leases.acquire(s, step, "dead-worker", lease_s=0.2)
    with sessions.begin() as s:
        assert claim_stranded(s, stale_s=3600) == []  # its lease is still live
    time.sleep(0.3)
    with sessions.begin() as s:
        assert claim_stranded(s, stale_s=3600) == [step]  # lapsed: sent again at once
    with sessions.begin() as s:
        assert claim_stranded(s, stale_s=3600) == []  # and only once
    chain(sessions, step, lambda: ScriptedLLM.named("arithmetic"))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"


def test_a_step_against_a_dead_server_retries_until_its_attempts_are_spent(
        pg_url: str, redis_url: str, workers, tmp_path: Path) -> None:
    from tests.conftest import free_port

    pg = sessionmaker_for(pg_url)
    job_id = make_job(pg, tmp_path, count=2, batch_size=2)
    env = {**env_for(pg_url, redis_url, f"http://127.0.0.1:{free_port()}/v1"),
           "FACTORY_LLM_MAX_RETRIES": "0", "FACTORY_STEP_ATTEMPTS": "3",
           "FACTORY_STEP_RETRY_BASE_S": "0.5"}  # not 7.5-15 s of backoff between the three
    workers(env).start("generate,verify")
    ran = cli(env, "job", "run", str(job_id), timeout=120)
    assert ran.returncode == 1 and "LLMUnavailable" in ran.stdout, ran.stdout + ran.stderr
    with pg() as s:
        job = s.get_one(Job, job_id)
        batch = s.scalars(select(Batch).where(Batch.job_id == job_id)).one()
        assert job.status == "failed" and "LLMUnavailable" in (job.error or "")
        assert batch.attempts == 3 and batch.stage == "generate"
        assert batch.lease_owner is None  # given up, so a resume can take it at once


def test_resuming_a_job_whose_batches_all_finished_marks_it_done(sessions,
                                                                 tmp_path: Path) -> None:
    """The last batch finished while the job was cancelled (or failed by a stale copy):
    resume finds nothing to send and must not leave the job running forever."""
    job_id = make_job(sessions, tmp_path, count=4, batch_size=4)
    (step,) = _start(sessions, job_id)
    chain(sessions, step, lambda: ScriptedLLM.named("arithmetic"))
    with sessions.begin() as s:
        s.get_one(Job, job_id).status = "cancelled"
    assert _start(sessions, job_id) == []
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"


def test_an_embedded_run_takes_over_leases_left_by_a_killed_one(sessions,
                                                                 tmp_path: Path) -> None:
    from factory import leases

    job_id = make_job(sessions, tmp_path, count=4, batch_size=4)
    (step,) = _start(sessions, job_id)
    with sessions.begin() as s:  # `factory job run` SIGKILLed mid-step: its lease stays
        assert leases.acquire(s, step, "killed-run", lease_s=3600)
    with sessions.begin() as s:
        steps = jobs.start(s, s.get_one(Job, job_id), take_over=True)
    InProcess(sessions, Settings(llm_base_url="scripted://arithmetic")).send(steps)
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"


def test_a_stale_copys_failure_does_not_count_against_the_batch(sessions,
                                                                tmp_path: Path) -> None:
    from factory.llm import LLMUnavailable
    from factory.runner import record_attempt, record_failure

    job_id = make_job(sessions, tmp_path, count=4, batch_size=4)
    (step,) = _start(sessions, job_id)
    nxt = run_step(sessions, step, lambda: ScriptedLLM.named("arithmetic"))
    assert record_attempt(sessions, step) == 0  # the batch moved on to verify
    record_failure(sessions, step, LLMUnavailable("late copy"))
    with sessions() as s:
        batch, job = s.get_one(Batch, step.batch_id), s.get_one(Job, job_id)
        assert (batch.attempts, batch.error, job.status) == (0, None, "running")
    assert record_attempt(sessions, nxt) == 1  # the current step's own failure counts
