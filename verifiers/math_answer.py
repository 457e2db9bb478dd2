"""Final-answer equivalence with math-verify (symbolic, not string matching).

math-verify bounds its own time with ``signal.alarm``, which only works in a process's main
thread (its issues #50, #55). So: in a main thread (the CLI, Celery's prefork and solo pools)
we call it with its own timeouts; anywhere else (thread pools) the checks run in a helper
process's main thread, with an outer deadline that kills the helper if a check still hangs.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from importlib.metadata import version

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from pydantic import BaseModel

NAME = "math-verify"
VERSION = f"{version('math-verify')}-1"
TIMEOUT_S = 5
_RESPONSE_CONFIG = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())
_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


class MathCheck(BaseModel):
    correct: bool
    extracted: str | None
    error: str | None = None
    # the check itself failed (a reference that does not parse, math-verify raising, a
    # deadline): says nothing of the response, unlike "no final answer found"
    check_failed: bool = False


@lru_cache(maxsize=65536)
def _parse_gold(gold: str, timeout: int) -> list:
    return parse(f"\\boxed{{{gold}}}", parsing_timeout=timeout)


def _check(gold: str, response: str, timeout: int | None) -> MathCheck:
    try:
        gold_parsed = _parse_gold(gold, timeout)
        if not gold_parsed:
            return MathCheck(correct=False, extracted=None, error=f"gold {gold!r} unparsable",
                             check_failed=True)
        answer = parse(response, extraction_config=_RESPONSE_CONFIG, parsing_timeout=timeout)
        if not answer:
            return MathCheck(correct=False, extracted=None, error="no final answer found")
        ok = verify(gold_parsed, answer, timeout_seconds=timeout)
        return MathCheck(correct=bool(ok), extracted=str(answer[-1]))
    except Exception as exc:  # math-verify raises on pathological input; never fail a batch
        return MathCheck(correct=False, extracted=None, error=f"{type(exc).__name__}: {exc}",
                         check_failed=True)


def _check_chunk(pairs: list[tuple[str, str]]) -> list[MathCheck]:
    return [_check(g, r, TIMEOUT_S) for g, r in pairs]


def _helper() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"))
        return _pool


def _reset_helper(used: ProcessPoolExecutor | None = None) -> None:
    """Kill the helper; with ``used``, only if it is still the current one (another thread
    may have replaced it already)."""
    global _pool
    with _pool_lock:
        if _pool is not None and (used is None or _pool is used):
            for proc in list(getattr(_pool, "_processes", {}).values()):
                proc.kill()
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def check_many(pairs: list[tuple[str, str]]) -> list[MathCheck]:
    """Check (gold, response) pairs; each check is bounded in time wherever this is called."""
    if threading.current_thread() is threading.main_thread():
        return _check_chunk(pairs)
    deadline = TIMEOUT_S * 3 * max(1, len(pairs)) + 30
    helper = _helper()
    try:
        return helper.submit(_check_chunk, pairs).result(timeout=deadline)
    except Exception as exc:  # a deadline passed (FutureTimeout) or the helper died
        _reset_helper(helper)
        if len(pairs) == 1:
            return [MathCheck(correct=False, extracted=None, error=f"check aborted: {exc!r}",
                              check_failed=True)]
        return [check_many([p])[0] for p in pairs]


def check(gold: str, response: str) -> MathCheck:
    return check_many([(gold, response)])[0]
