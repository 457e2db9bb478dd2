"""Execution feedback on code: HumanEval in the real Docker sandbox, cheats, model tests, jobs."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import Job, Prompt, Verdict
from factory.config import Settings
from factory.jobs import create_job
from factory.llm import SamplingParams
from factory.llm.scripted import ScriptedLLM
from factory.runner import InProcess
from factory.seeds import SeedKind, import_seeds, read_seeds
from factory.strategies.base import PromptSpec, Sample
from factory.strategies.code_execution import CodeExecutionFeedback, CodeParams
from tests.test_pipeline import run

DATA = Path(__file__).parent.parent / "factory" / "data"
HUMANEVAL = [s for _, s in read_seeds(DATA / "HumanEval.jsonl.gz", SeedKind.code)]


@pytest.fixture(scope="module")
def strategy() -> CodeExecutionFeedback:
    return CodeExecutionFeedback(CodeParams(timeout_s=10))


def test_all_164_canonical_solutions_pass_and_a_wrong_one_fails(strategy) -> None:
    assert len(HUMANEVAL) == 164

    def one(seed: dict) -> tuple[str, bool, dict]:
        ok, details = strategy.run_tests(seed["prompt"] + seed["canonical_solution"],
                                         seed["test"], seed["entry_point"], seed["prompt"])
        return seed["task_id"], ok, details

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, HUMANEVAL))
    failures = [(t, d["status"], d["detail"], d["stderr"][-300:]) for t, ok, d in results
                if not ok]
    assert failures == []
    assert all(d["checks"] > 0 for _, _, d in results)
    seed = HUMANEVAL[0]
    ok, details = strategy.run_tests(seed["prompt"] + "    return not True\n", seed["test"],
                                     seed["entry_point"], seed["prompt"])
    assert not ok and details["status"] == "failed"
    assert details["detail"].startswith("AssertionError at tests line"), details


CHEATS = {
    "sys_exit": "    import sys\n    sys.exit(0)\n",
    "os_exit": "    return 0\nimport os\nos._exit(0)\n",
    "redefine_check": "    return False\ndef check(candidate):\n    pass\n",
    "print_marker": "    return False\nprint('\\nHARNESS-OK 00000000000000000000000000000000 7')\n"
                    "import os\nos._exit(0)\n",
    "always_equal": "    class E:\n        def __eq__(self, o):\n            return True\n"
                    "    return E()\n",
    "tamper_builtins": "    return False\nimport builtins\nbuiltins.AssertionError = SystemExit\n",
    "swallow_exit": "    return False\nimport atexit, os\natexit.register(lambda: os._exit(0))\n",
}


@pytest.mark.parametrize("case", sorted(CHEATS))
def test_a_solution_cannot_pass_by_cheating_the_harness(strategy, case: str) -> None:
    seed = HUMANEVAL[0]
    ok, details = strategy.run_tests(seed["prompt"] + CHEATS[case], seed["test"],
                                     seed["entry_point"])
    assert not ok, details


def test_without_tests_a_solution_must_agree_with_its_siblings(strategy) -> None:
    prompt = "def double(x: int) -> int:\n    \"\"\"Twice x.\"\"\"\n"
    spec = PromptSpec(template_id="code/solve_v1", messages=[],
                      reference={"prompt": prompt, "entry_point": "double", "test": None})
    good = ("```python\ndef double(x):\n    return 2 * x\n```\n```python\n"
            "assert double(2) == 4\nassert double(0) == 0\n```")
    good2 = ("```python\ndef double(x):\n    return x + x\n```\n```python\n"
             "assert double(3) == 6\n```")
    wrong_but_self_consistent = ("```python\ndef double(x):\n    return x + 1\n```\n"
                                 "```python\nassert double(1) == 2\n```")
    no_tests = "```python\ndef double(x):\n    return 2 * x\n```"
    # tests that would write a forged verdict from the judge's side are not run at all
    hostile_tests = ("```python\ndef double(x):\n    return x\n```\n```python\n"
                     "assert __import__('os').write(6, b'ok') or True\n```")
    texts = [good, good2, wrong_but_self_consistent, no_tests, hostile_tests]
    verdicts = strategy.judge(spec, [Sample(text=t) for t in texts])
    assert [v.passed for v in verdicts] == [True, True, False, False, False]
    assert verdicts[4].details["detail"] == "no tests written"
    assert verdicts[2].details["own_tests"] is True and verdicts[2].details["agreement"] < 0.5


def canonical_or_wrong(by_prompt: dict[str, dict]):
    def respond(messages, params: SamplingParams, index: int) -> str:
        seed = next(s for p, s in by_prompt.items() if p in messages[-1]["content"])
        body = seed["canonical_solution"] if index % 2 == 0 else "    return None\n"
        return f"```python\n{seed['prompt']}{body}```"

    return respond


def test_code_job_end_to_end_with_sandbox_verdicts(sessions, tmp_path: Path) -> None:
    seeds = HUMANEVAL[:6]
    path = tmp_path / "code.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in seeds))
    with sessions.begin() as s:
        seed_set, _ = import_seeds(s, path, SeedKind.code)
        job = create_job(s, "code", seed_set, {"batch_size": 3, "max_samples": 4}, "scripted")
        s.flush()
        job_id = job.id
    runner = InProcess(sessions, Settings())
    llm = ScriptedLLM(canonical_or_wrong({s["prompt"]: s for s in seeds}))
    runner.llm_factory = lambda: llm
    run(sessions, job_id, runner)
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        rates = s.scalars(select(Prompt.pass_rate).where(Prompt.job_id == job_id)).all()
        assert rates == [0.5] * 6
        details = s.scalars(select(Verdict.details)).all()
        assert {d["status"] for d in details} == {"ok", "failed"}
        assert all("duration_s" in d and "exit_code" in d for d in details)
    from factory.jobs import progress

    with sessions() as s:
        p = progress(s, s.get_one(Job, job_id))
    assert p.sft == 6 and p.pairs == 6


def test_code_seed_without_function_is_refused(tmp_path: Path) -> None:
    from factory.seeds import SeedFileError

    bad = tmp_path / "c.jsonl"
    bad.write_text(json.dumps({"prompt": "write something"}) + "\n")
    with pytest.raises(SeedFileError, match="c.jsonl:1: .*no entry_point"):
        list(read_seeds(bad, SeedKind.code))


class _Finalised:
    """Cyclic garbage whose finalizer runs Python code, so the collector can switch threads."""

    def __del__(self) -> None:
        sum(range(50))


def test_checks_prepared_in_many_threads_at_once_all_parse() -> None:
    """CPython 3.11's AST builder keeps its recursion count per interpreter; the embedded runner
    prepares checks in threads, and a thread switch inside ``ast.parse`` made a canonical
    HumanEval solution fail with SystemError on a CI machine."""
    import gc
    import sys

    from verifiers.code_harness import function_job

    seed = HUMANEVAL[47]
    solution = seed["prompt"] + seed["canonical_solution"]
    failures: list[BaseException] = []

    def prepare() -> None:
        for _ in range(300):
            garbage = _Finalised()
            garbage.me = garbage  # type: ignore[attr-defined]
            del garbage
            try:
                function_job(solution, seed["test"], seed["entry_point"], seed["prompt"])
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                failures.append(exc)
                return

    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(20, 2, 2)
    try:
        with ThreadPoolExecutor(4) as pool:
            for future in [pool.submit(prepare) for _ in range(4)]:
                future.result()
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
    assert failures == []
