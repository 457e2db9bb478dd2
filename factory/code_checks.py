"""Function checks through the process's warm sandbox pool: many (solution, tests) cases at
once, spread over the containers, several per exec. The code strategy and `factory verify
code` both judge through here, so a file checked by hand gets the verdict a job would."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from factory.sandbox_service import sandbox_pool
from verifiers import code_harness
from verifiers.sandbox import RunResult

OUTPUT_KEPT = 2000


@dataclass(frozen=True)
class Case:
    """A solution (a whole program defining ``entry_point``) and HumanEval-style tests
    (``check(candidate)``). ``context``: the problem's own code the tests may use (its
    prompt); ``restricted``: the tests are a model's (code_harness.restricted_tests_error)."""

    solution: str
    test: str
    entry_point: str
    context: str = ""
    restricted: bool = False


def status_of(passed: bool, details: dict[str, Any]) -> str:
    """passed | failed | error (the check itself could not run: broken tests, the sandbox)."""
    if passed:
        return "passed"
    return "error" if details.get("status") == "error" else "failed"


def judge_cases(cases: list[Case], timeout_s: float) -> list[tuple[bool, dict[str, Any]]]:
    """(passed, details) per case, in order; a case passes only if the tests, run apart from
    the solution, saw every check hold."""
    out: list[tuple[bool, dict[str, Any]] | None] = [None] * len(cases)
    jobs: list[tuple[int, dict[str, Any]]] = []
    for i, c in enumerate(cases):
        try:
            jobs.append((i, code_harness.function_job(
                c.solution, c.test, c.entry_point, c.context, restricted=c.restricted,
                call_timeout=timeout_s)))
        except code_harness.BadCheck as exc:
            out[i] = (False, {"status": exc.status, "detail": exc.reason, "checks": 0})
    for (i, _), r in zip(jobs, run_jobs([j for _, j in jobs], timeout_s), strict=True):
        ok, details = code_harness.verdict(r)
        for key in ("stdout", "stderr", "test_output"):
            details[key] = details[key][-OUTPUT_KEPT:]
        out[i] = (ok, details)
    return [o for o in out if o is not None]


def run_jobs(jobs: list[dict[str, Any]], timeout_s: float) -> list[RunResult]:
    """Function-check jobs (code_harness.function_job dicts) spread over the warm containers,
    several per exec; their results in order."""
    pool = sandbox_pool()
    out: list[RunResult | None] = [None] * len(jobs)
    order = list(range(len(jobs)))
    chunks = [order[k::pool.size] for k in range(pool.size) if order[k::pool.size]]
    with ThreadPoolExecutor(len(chunks) or 1) as threads:
        results = threads.map(lambda ch: pool.judge_many([jobs[i] for i in ch], timeout_s),
                              chunks)
        for chunk, chunk_results in zip(chunks, results, strict=True):
            for i, r in zip(chunk, chunk_results, strict=True):
                out[i] = r
    return [r for r in out if r is not None]
