"""The job machinery in-process: end to end, idempotent re-runs, cancel/resume, failures."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import Batch, Generation, Job, Prompt, SftExample, Verdict
from db.session import insert_ignore, sessionmaker_for
from factory import jobs
from factory.config import Settings
from factory.llm import LLMUnavailable, SamplingParams
from factory.llm.openai_client import OpenAIClient
from factory.llm.scripted import ScriptedLLM, garbage
from factory.runner import InProcess
from factory.stages import run_step
from tests.conftest import free_port
from tests.helpers import make_job, snapshot

SCRIPTED = Settings(llm_base_url="scripted://arithmetic")


def run(sessions, job_id: int, runner: InProcess | None = None) -> None:
    runner = runner or InProcess(sessions, SCRIPTED)
    with sessions.begin() as s:
        steps = jobs.start(s, s.get_one(Job, job_id))
    runner.send(steps)


def count(sessions, model, *where) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_job_runs_end_to_end_with_provenance(sessions, tmp_path: Path) -> None:
    job_id = make_job(sessions, tmp_path, count=20, batch_size=6, max_samples=8)
    run(sessions, job_id)
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        batches = s.scalars(select(Batch).where(Batch.job_id == job_id)).all()
        assert len(batches) == 4 and {b.stage for b in batches} == {"done"}
        prompts = s.scalars(select(Prompt).where(Prompt.job_id == job_id)).all()
        assert len(prompts) == 20
        for p in prompts:
            idx = s.scalars(select(Generation.sample_index).where(Generation.prompt_id == p.id)
                            .order_by(Generation.sample_index)).all()
            assert idx == list(range(len(idx))) and 4 <= len(idx) <= 8
            assert p.samples == len(idx) and p.template_version == "v1"
        gen = s.scalars(select(Generation).where(Generation.job_id == job_id)).first()
        assert gen.model == "scripted-arithmetic" and gen.seed is not None
        assert gen.sampling["temperature"] == 0.7 and gen.completion_tokens
        verdict = s.scalars(select(Verdict)).first()
        assert verdict.verifier == "math-verify" and verdict.verifier_version
    assert count(sessions, SftExample, SftExample.job_id == job_id) > 0
    # every generation is judged exactly once
    assert count(sessions, Verdict) == count(sessions, Generation)


def test_rerun_and_duplicate_delivery_change_nothing(sessions, tmp_path: Path) -> None:
    clean = make_job(sessions, tmp_path, count=10, batch_size=5)
    run(sessions, clean)
    job_id = make_job(sessions, tmp_path, count=10, batch_size=5, seed=0)
    with sessions.begin() as s:
        steps = jobs.start(s, s.get_one(Job, job_id))
    llm = lambda: ScriptedLLM.named("arithmetic")  # noqa: E731
    nxt = run_step(sessions, steps[0], llm)          # generate committed ...
    assert run_step(sessions, steps[0], llm) is None  # ... and delivered again: a no-op
    run_step(sessions, nxt, llm)
    assert run_step(sessions, nxt, llm) is None
    with sessions.begin() as s:                      # "crash": resend whatever is pending
        pending = jobs.pending_steps(s, s.get_one(Job, job_id))
    InProcess(sessions, SCRIPTED).send(pending + pending)
    a, b = snapshot(sessions, clean), snapshot(sessions, job_id)
    assert a == b and a["status"] == ["done"]


def test_cancel_then_resume_does_not_redo_finished_batches(sessions, tmp_path: Path) -> None:
    job_id = make_job(sessions, tmp_path, count=20, batch_size=5)
    llm = ScriptedLLM.named("arithmetic")

    def cancel_after_first_batch(step) -> None:
        with sessions.begin() as s:
            if s.scalar(select(func.count()).select_from(Batch)
                        .where(Batch.job_id == job_id, Batch.stage == "done")) >= 1:
                jobs.cancel(s, s.get_one(Job, job_id))

    # one step at a time: with several in flight a loaded machine can finish every batch
    # before the first callback sees one done, and then there is nothing left to cancel
    runner = InProcess(sessions, SCRIPTED, on_step=cancel_after_first_batch, parallel=1)
    runner.llm_factory = lambda: llm
    run(sessions, job_id, runner)
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "cancelled"
        done = s.scalars(select(Batch.id).where(Batch.job_id == job_id,
                                                Batch.stage == "done")).all()
        first_gens = s.scalars(select(Generation.id).join(Prompt)
                               .where(Prompt.batch_id.in_(done))).all()
    assert len(done) == 1
    with sessions() as s:
        finished = {m[-1]["content"] for m in s.scalars(select(Prompt.messages)
                                                        .where(Prompt.batch_id.in_(done)))}
    calls_before = len(llm.asked)
    runner2 = InProcess(sessions, SCRIPTED)
    runner2.llm_factory = lambda: llm
    run(sessions, job_id, runner2)
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        again = s.scalars(select(Generation.id).join(Prompt)
                          .where(Prompt.batch_id.in_(done))).all()
    assert again == first_gens
    # nothing of the finished batch went to the model again
    assert not finished & set(llm.asked[calls_before:])


def test_server_down_fails_clearly_stores_nothing_and_resumes(sessions, tmp_path: Path) -> None:
    job_id = make_job(sessions, tmp_path, count=6, batch_size=3)
    down = Settings(llm_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_max_retries=2,
                    llm_retry_base_s=0.01)
    runner = InProcess(sessions, down)
    with pytest.raises(LLMUnavailable, match="failed 3 attempts"):
        run(sessions, job_id, runner)
    with sessions() as s:
        job = s.get_one(Job, job_id)
        assert job.status == "failed" and "LLMUnavailable" in job.error
    assert count(sessions, Generation) == 0
    run(sessions, job_id)  # the server is back (scripted): resume finishes the job
    assert snapshot(sessions, job_id)["status"] == ["done"]


def test_garbage_model_output_is_judged_wrong_not_a_crash(sessions, tmp_path: Path) -> None:
    job_id = make_job(sessions, tmp_path, count=4, batch_size=4, max_samples=4)
    runner = InProcess(sessions, Settings(llm_base_url="scripted://garbage"))
    run(sessions, job_id, runner)
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        assert s.scalar(select(func.count()).select_from(Verdict)
                        .where(Verdict.passed.is_(True))) == 0
        flags = set(s.scalars(select(Prompt.flag).where(Prompt.job_id == job_id)))
    assert flags == {"too_hard"}


def test_model_output_holding_nul_is_stored_on_either_store(store_url, tmp_path: Path) -> None:
    """A model may write a NUL (a garbage sample, a model-written test case); PostgreSQL's
    text refuses it outright, and the job must go on. Sample texts store it as U+2400 (the
    symbol for NUL), the same on either store; verdict details (JSON, not JSONB) keep it."""
    sessions = sessionmaker_for(store_url)
    job_id = make_job(sessions, tmp_path, count=2, batch_size=2, max_samples=2)
    run(sessions, job_id, InProcess(sessions, Settings(llm_base_url="scripted://garbage")))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        texts = set(s.scalars(select(Generation.text)))
        generation_id = s.scalars(select(Generation.id)).first()
    assert texts == {garbage([], SamplingParams(), i).replace("\x00", "\u2400") for i in (0, 1)}
    details = {"reason": "case 2 failed", "cases": [{"response": "a\x00b", "expected": True}]}
    with sessions.begin() as s:  # as the judge stage writes a verdict (autoif's cases, say)
        insert_ignore(s, Verdict, [{"generation_id": generation_id, "verifier": "nul",
                                    "verifier_version": "v1", "passed": False,
                                    "status": "failed", "score": None, "details": details}])
    with sessions() as s:
        assert s.scalar(select(Verdict.details).where(Verdict.verifier == "nul")) == details


def test_unknown_strategy_and_bad_params_are_clear(sessions, tmp_path: Path) -> None:
    with pytest.raises(jobs.JobError, match="parameter 'max_samples'"):
        make_job(sessions, tmp_path, count=2, max_samples=0)
    with pytest.raises(jobs.JobError, match="parameter 'bogus'"):
        make_job(sessions, tmp_path, count=2, bogus=1)


def test_openai_client_is_used_for_http_urls() -> None:
    from factory.llm import connect

    assert isinstance(connect(Settings(llm_base_url="http://x/v1")), OpenAIClient)


def test_request_seeds_are_a_contract() -> None:
    """The values a request seed hashes (prompt key, ask name, round) never change with the
    names around them, so the same seeds give the same samples across versions."""
    from factory.llm import request_seed

    messages = [{"role": "user", "content": "What is 2+2?"}]
    assert request_seed(0, messages, "", 0) == 2052291435
    assert request_seed(7, messages, "honesty|follow", 1) == 1520571461
    assert request_seed(0, messages, "judge", 0) == 1021258934
