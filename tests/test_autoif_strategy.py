"""The autoif strategy: an instruction written per query, verification functions cross-validated
on pooled test cases in the sandbox, responses judged by the kept functions; SFT from passing
responses, pairs against the fewest accepted, the functions and cases in every line's meta. A
whole job runs in-process on SQLite with a scripted model and the real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from db.models import Generation, Job, PreferencePair, Prompt, SftExample, Verdict
from db.session import sessionmaker_for
from factory.llm.scripted import ScriptedLLM
from factory.llm.scripted_autoif import FUNCTIONS, INSTRUCTION, LONG, SHORT, verifier_text
from factory.seeds import SeedKind
from factory.strategies import get_strategy
from factory.strategies.autoif import (
    INSTRUCTION_ROUND,
    RESPONSE_ROUND,
    VERIFIER_ROUND,
    AutoIf,
    AutoIfParams,
    Verifier,
    pooled_cases,
)
from factory.strategies.base import JudgedSample, Sample, VerdictSpec
from tests.conftest import cli, env_for
from tests.helpers import run_in_process, seed_job, snapshot


def test_registered_as_autoif_on_prompt_seeds() -> None:
    assert get_strategy("autoif") is AutoIf
    assert AutoIf.seed_kind == SeedKind.prompts and AutoIf.judge_queue == "sandbox"


def test_params_have_autoif_defaults_and_refuse_an_impossible_minimum() -> None:
    p = AutoIfParams()
    assert (p.min_accuracy, p.min_functions, p.pass_rule) == (0.8, 3, "all")
    with pytest.raises(ValidationError, match="min_functions"):
        AutoIfParams(functions=2, min_functions=3)


def test_pooled_cases_merge_duplicates_and_drop_contradictions() -> None:
    a = Verifier(function="f", cases=[{"response": "x", "expected": True},
                                      {"response": "y", "expected": False}])
    b = Verifier(function="g", cases=[{"response": "x", "expected": True},
                                      {"response": "y", "expected": True},
                                      {"response": "z", "expected": False}])
    assert pooled_cases([a, None, b]) == [("x", True), ("z", False)]


def judged(i: int, ask: str, text: str, passed: bool, score: float | None = None,
           details: dict | None = None) -> JudgedSample:
    return JudgedSample(generation_id=100 + i, sample_index=i, text=text, ask=ask,
                        verdict=VerdictSpec(passed=passed, score=score, details=details or {}))


def test_rounds_follow_what_earlier_rounds_kept() -> None:
    s = AutoIf(AutoIfParams(functions=4, min_functions=2, first_round=3))
    spec = s.build_prompts({"prompt": "Plan a walk."})[0]
    assert spec.reference["query"] == "Plan a walk."
    (first,) = s.asks(spec, INSTRUCTION_ROUND, [])
    assert first.name == "instruction"
    assert first.json_schema["properties"]["instruction"]["maxLength"] == 300
    inst = judged(0, "instruction", json.dumps({"instruction": INSTRUCTION}), True)
    assert s.asks(spec, VERIFIER_ROUND, [judged(0, "instruction", "{}", False)]) == []
    (second,) = s.asks(spec, VERIFIER_ROUND, [inst])
    assert second.name == "verifier" and second.n == 4 and INSTRUCTION in \
        second.messages[0]["content"]
    short = AutoIf(AutoIfParams(function_chars=50, case_chars=10, max_cases=3))
    schema = short.asks(spec, VERIFIER_ROUND, [inst])[0].json_schema
    assert schema["properties"]["function"]["maxLength"] == 50
    assert schema["properties"]["cases"]["maxItems"] == 3
    assert schema["$defs"]["CheckCase"]["properties"]["response"]["maxLength"] == 10
    same = [judged(i, "verifier", verifier_text(0), True, 1.0) for i in (1, 2)]
    assert s.asks(spec, RESPONSE_ROUND, [inst, *same]) == []  # one distinct function
    other = judged(3, "verifier", verifier_text(1), True, 1.0)
    (third,) = s.asks(spec, RESPONSE_ROUND, [inst, *same, other])
    assert third.name == "response" and third.n == 3
    assert third.messages[0]["content"] == f"Plan a walk.\n\n{INSTRUCTION}"


def test_a_job_runs_in_process_and_stores_functions_and_cases(sessions, tmp_path: Path) -> None:
    records = [{"prompt": "Plan a walk by the river.", "category": "plans"},
               {"prompt": "GARBAGE: describe a quiet morning."}]
    job_id = seed_job(sessions, tmp_path / "prompts.jsonl", "autoif", SeedKind.prompts,
                      records, functions=5, min_functions=3, call_timeout_s=2.0,
                      first_round=4, max_samples=8, sft_per_problem=2, pairs_per_problem=2)
    run_in_process(sessions, job_id, ScriptedLLM.named("autoif"))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        prompts = {p.reference["query"][:7]: p
                   for p in s.scalars(select(Prompt).where(Prompt.job_id == job_id))}
        good, garbage = prompts["Plan a "], prompts["GARBAGE"]
        assert (good.flag, garbage.flag) == (None, "too_few_functions")
        rows = s.execute(select(Generation, Verdict).join(Verdict)
                         .where(Generation.job_id == job_id)).all()
        by_ask: dict[tuple[int, str], list[Verdict]] = {}
        for g, v in rows:
            by_ask.setdefault((g.prompt_id, g.ask), []).append(v)
            assert v.verifier == "autoif" and v.status in ("passed", "failed")
            assert v.details["reason"]
        assert {a for _, a in by_ask} == {"instruction", "verifier", "response"}
        # the always-True function is dropped, the four honest ones kept; garbage keeps none
        kept = [v.passed for v in by_ask[good.id, "verifier"]]
        assert kept == [True, True, True, True, False]
        assert not any(v.passed for v in by_ask[garbage.id, "verifier"])
        assert (garbage.id, "response") not in by_ask
        responses = by_ask[good.id, "response"]
        assert len(responses) == 4 and [v.passed for v in responses] == [True, False] * 2
        assert all(len(v.details["answers"]) == 4 for v in responses)
        sft = s.scalars(select(SftExample).where(SftExample.job_id == job_id)).all()
        pairs = s.scalars(select(PreferencePair).where(PreferencePair.job_id == job_id)).all()
        assert len(sft) == 2 and len(pairs) == 2
        for line in [*sft, *pairs]:
            assert line.meta["instruction"] == INSTRUCTION
            assert line.meta["functions"] == FUNCTIONS[:4]
            assert line.meta["function_accuracy"] == [1.0] * 4
            assert {c["expected"] for c in line.meta["cases"]} == {True, False}
            assert line.meta["query"] == "Plan a walk by the river."
        assert all(x.messages[0]["content"].endswith(INSTRUCTION) for x in sft)
        assert all(x.messages[-1]["content"].startswith(SHORT) for x in sft)
        assert all(x.rejected[-1]["content"].startswith(LONG) for x in pairs)
        assert all(x.meta["rejected_score"] == 0.0 for x in pairs)


def test_celery_workers_judge_the_functions_in_the_sandbox_as_in_process(
        tmp_path: Path, sqlite_url: str, pg_url: str, redis_url: str, workers) -> None:
    """Through `factory worker` (Redis, PostgreSQL, a worker's own sandbox pool) the job stores
    what the in-process run stores, and the honest functions were run and kept there."""
    records = [{"prompt": "Plan a walk by the river."}, {"prompt": "GARBAGE: a quiet morning."},
               {"prompt": "Describe a market."}]
    params = dict(functions=5, min_functions=3, call_timeout_s=2.0, first_round=4,
                  max_samples=8, sft_per_problem=2, pairs_per_problem=2, batch_size=2)
    embedded = sessionmaker_for(sqlite_url)
    reference_id = seed_job(embedded, tmp_path / "a.jsonl", "autoif", SeedKind.prompts, records,
                            **params)
    run_in_process(embedded, reference_id, ScriptedLLM.named("autoif"))
    reference = snapshot(embedded, reference_id)
    pg = sessionmaker_for(pg_url)
    job_id = seed_job(pg, tmp_path / "b.jsonl", "autoif", SeedKind.prompts, records, **params)
    env = env_for(pg_url, redis_url, "scripted://autoif")
    workers(env).start(options=())
    result = cli(env, "job", "run", str(job_id))
    assert result.returncode == 0, result.stdout + result.stderr
    assert snapshot(pg, job_id) == reference
    with pg() as s:
        sft = s.scalars(select(SftExample).where(SftExample.job_id == job_id)).all()
        assert len(sft) == 4  # two queries with kept functions, two passing responses each
        assert all(x.meta["functions"] == FUNCTIONS[:4] for x in sft)


def test_contradictory_cases_only_fail_every_function_and_never_raise() -> None:
    """Every pooled case contradicts another (same text, both verdicts): no case is left, so each
    parsed function gets a failed verdict saying so (not a ValueError that fails the job)."""
    s = AutoIf(AutoIfParams(functions=2, min_functions=1))
    cases = [{"response": "a", "expected": True}, {"response": "a", "expected": False}]
    texts = [json.dumps({"function": FUNCTIONS[0], "cases": cases}), "not json"]
    one = s._judge_verifiers(texts[:1])
    both = s._judge_verifiers(texts)
    for v in [*one, *both]:
        assert not v.passed and v.error is None and v.details["reason"]
    assert "no pooled case left" in one[0].details["reason"]
    assert "no pooled case left" in both[0].details["reason"]
    assert both[1].details["reason"].startswith("not verifier JSON")
    spec = s.build_prompts({"prompt": "q"})[0]
    assert s.curate(spec, [judged(0, "instruction", json.dumps({"instruction": "Be brief."}),
                                  True)]).flag == "too_few_functions"


@pytest.mark.parametrize("text", [
    "", "null", "[" * 100_000, '{"function": "f", "cases": []}',
    '{"function": "f", "cases": [{"response": 1' + "0" * 5000 + ', "expected": true}]}',
    '{"function": "f", "cases": [{"response": "a", "expected": 1e999}]}',
    '{"function": "f", "cases": [{"response": "\\ud800", "expected": true}]}',
    '{"function": 7, "cases": [{"response": "a", "expected": true}]}'])
def test_odd_model_output_fails_its_verdict_with_a_reason(text: str) -> None:
    s = AutoIf(AutoIfParams(functions=2, min_functions=1))
    (v,) = s._judge_verifiers([text])
    assert not v.passed and v.error is None and v.details["reason"].startswith("not verifier")
    (i,) = s.judge_after(s.build_prompts({"prompt": "q"})[0],
                         [Sample(text=text, ask="instruction", round=0)], [])
    assert not i.passed and i.details["reason"]


def test_acceptance_counts_responses_only(sessions, tmp_path: Path) -> None:
    """1 instruction + 5 verification functions (4 kept) + 8 responses (3 pass: the script's
    short answers grow a word each) is 3 of 8 in the prompt's figures and in `factory status`,
    not 8 of 14."""
    from factory import ops

    job_id = seed_job(sessions, tmp_path / "prompts.jsonl", "autoif", SeedKind.prompts,
                      [{"prompt": "Plan a walk."}], functions=5, min_functions=3,
                      call_timeout_s=2.0, first_round=8, max_samples=8, sft_per_problem=4,
                      pairs_per_problem=0)
    run_in_process(sessions, job_id, ScriptedLLM.named("autoif"))
    with sessions() as s:
        asks = [g.ask for g in s.scalars(select(Generation).where(Generation.job_id == job_id))]
        assert sorted(set(asks)) == ["instruction", "response", "verifier"] and len(asks) == 14
        prompt = s.scalars(select(Prompt).where(Prompt.job_id == job_id)).one()
        assert (prompt.samples, prompt.passed, prompt.pass_rate) == (8, 3, 0.375)
        health = {h.strategy: h for h in ops.strategies(s)}["autoif"]
        assert (health.samples, health.verdicts, health.passed) == (8, 8, 3)
        assert health.acceptance == 0.375 and health.check_errors == 0
