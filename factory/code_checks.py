"""Function checks through the process's warm sandbox pool: many (solution, tests) cases at
once, spread over the containers, several per exec. The code strategy and `factory verify
code` both judge through here, so a file checked by hand gets the verdict a job would."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from factory.sandbox_service import sandbox_pool
from verifiers import code_harness

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
    pool = sandbox_pool()
    chunks = [jobs[k::pool.size] for k in range(pool.size) if jobs[k::pool.size]]
    with ThreadPoolExecutor(len(chunks) or 1) as threads:
        results = threads.map(lambda ch: pool.judge_many([j for _, j in ch], timeout_s), chunks)
        for chunk, chunk_results in zip(chunks, results, strict=True):
            for (i, _), r in zip(chunk, chunk_results, strict=True):
                ok, details = code_harness.verdict(r)
                for key in ("stdout", "stderr", "test_output"):
                    details[key] = details[key][-OUTPUT_KEPT:]
                out[i] = (ok, details)
    return [o for o in out if o is not None]
