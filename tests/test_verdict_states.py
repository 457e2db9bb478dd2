"""Verdicts say what they are: passed, failed, error (the check failed, not the sample: retried,
never paired or exported, counted) and pending (people have not ranked it yet)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from db.models import Generation, Job, PreferencePair, SftExample, Verdict
from factory import jobs, ops
from factory.export import ExportFilter, export
from factory.llm.scripted import ScriptedLLM
from factory.seeds import SeedKind
from factory.stages import CHECK_ATTEMPTS
from tests.helpers import run_in_process, seed_job
from verifiers import math_answer

PROBLEMS = [{"problem": "What is 2 + 3?", "answer": "5"},
            {"problem": "What is 4 + 4?", "answer": "8"},
            {"problem": "What is 7 - 2?", "answer": "5"}]


def test_a_check_that_errors_is_retried_counted_and_never_exported(sessions, tmp_path: Path,
                                                                    monkeypatch) -> None:
    real = math_answer.verify

    def crashes_on_eight(gold, answer, **kw):  # math-verify crashing on one reference
        if "8" in str(gold):
            raise RuntimeError("math-verify crashed")
        return real(gold, answer, **kw)

    monkeypatch.setattr(math_answer, "verify", crashes_on_eight)
    job_id = seed_job(sessions, tmp_path / "m.jsonl", "math", SeedKind.math, PROBLEMS,
                      batch_size=3, max_samples=4)
    # one step at a time, in this thread: the patched math-verify runs here, not in the helper
    # process that checks run in off the main thread
    run_in_process(sessions, job_id, ScriptedLLM.named("arithmetic"), parallel=1)
    with sessions() as s:
        rows = s.execute(select(Generation.prompt_id, Verdict).join(Verdict)
                         .where(Generation.job_id == job_id)).all()
        statuses = {v.status for _, v in rows}
        errored = [v for _, v in rows if v.status == "error"]
        assert errored and statuses <= {"passed", "failed", "error"}
        for v in errored:
            assert not v.passed and "math-verify crashed" in v.details["check_error"]
            assert v.details["check_attempts"] == CHECK_ATTEMPTS
        bad_prompt = {pid for pid, v in rows if v.status == "error"}
        assert len(bad_prompt) == 1  # only the problem whose check crashes
        used = set(s.scalars(select(SftExample.generation_id)))
        used |= set(s.scalars(select(PreferencePair.rejected_generation_id)))
        assert not used & {v.generation_id for v in errored}  # never paired or exported
        assert s.scalar(select(SftExample.id).where(SftExample.job_id == job_id))  # the others
        p = jobs.progress(s, s.get_one(Job, job_id))
        assert p.status == "done" and p.check_errors == len(errored)
        health = {h.strategy: h for h in ops.strategies(s)}["math"]
        assert health.check_errors == len(errored)
        assert health.verdicts == len(rows) - len(errored)  # acceptance leaves them out
        result = export(s, "sft", tmp_path / "sft.jsonl", ExportFilter(job_id=job_id))
    manifest = json.loads(result.manifest.read_text())
    assert manifest["jobs"][str(job_id)]["check_errors_left_out"] == len(errored)


def test_responses_for_people_are_pending_not_accepted(sessions, tmp_path: Path) -> None:
    job_id = seed_job(sessions, tmp_path / "p.jsonl", "respond", SeedKind.prompts,
                      [{"prompt": "Write a haiku about rain."}], temperatures=[0.3, 1.0])
    run_in_process(sessions, job_id, ScriptedLLM.named("arithmetic"))
    with sessions() as s:
        verdicts = s.scalars(select(Verdict)).all()
        assert len(verdicts) == 2 and {v.status for v in verdicts} == {"pending"}
        assert {v.verifier for v in verdicts} == {"awaiting-people"}
        health = {h.strategy: h for h in ops.strategies(s)}["respond"]
        assert health.acceptance is None and health.samples == 2
