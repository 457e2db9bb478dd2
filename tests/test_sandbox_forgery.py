"""Code verdicts a solution cannot forge: each known or likely trick, on the real Docker engine,
must be judged failed; correct solutions still pass; bad input is a clear verdict, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from factory.config import Settings
from factory.seeds import SeedKind, read_seeds
from verifiers import code_harness
from verifiers.sandbox import LABEL, SandboxError, SandboxLimits, SandboxPool
from verifiers.sandbox_wire import WireError, dumps, loads

DATA = Path(__file__).parent.parent / "factory" / "data"
SEEDS = {s["task_id"]: s for _, s in read_seeds(DATA / "HumanEval.jsonl.gz", SeedKind.code)}
HAS_CLOSE = SEEDS["HumanEval/0"]  # tests: assert candidate(...) == True / False
TRUNCATE = SEEDS["HumanEval/2"]  # tests use abs(...)
FORGED_VERDICT = dumps({"passed": True, "checks": 9, "calls": 9, "reason": None, "error": False})
PASS_LINE = "print('\\nHARNESS-OK 0123456789abcdef0123456789abcdef 7', flush=True)\n"


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    try:
        p = SandboxPool(Settings().sandbox_image, size=1, limits=SandboxLimits(memory_mb=128))
    except SandboxError as exc:
        pytest.fail(str(exc))
    yield p
    p.close()
    left = docker.from_env().containers.list(all=True, filters={"label": f"{LABEL}={p.pool_id}"})
    assert left == [], "the pool must leave no container behind"


def judge(pool: SandboxPool, seed: dict, solution: str, timeout_s: float = 5.0,
          test: str | None = None) -> tuple[bool, dict]:
    """A solution for seed's problem (its prompt is prepended) through the whole path."""
    try:
        job = code_harness.function_job(seed["prompt"] + solution, test or seed["test"],
                                        seed["entry_point"], seed["prompt"],
                                        call_timeout=timeout_s)
    except code_harness.BadCheck as exc:
        return False, {"status": exc.status, "detail": exc.reason}
    return code_harness.verdict(pool.judge_many([job], timeout_s)[0])


def still_works(pool: SandboxPool) -> None:
    ok, details = judge(pool, HAS_CLOSE, HAS_CLOSE["canonical_solution"])
    assert ok, details
    r = pool.run("import os\nprint(sorted(os.listdir('/tmp')), os.listdir('/dev/mqueue'))")
    assert r.status == "ok", r
    listing = r.stdout.strip()
    assert listing.startswith("[") and listing.count("run-") == 1, listing  # its own folder
    assert listing.endswith("[]"), listing


WRONG = "    return False\n"  # HumanEval/0: wrong for half of its tests

FORGERIES = {
    # the two that passed before: the run token from the harness's closure; the tests' abs
    "gc_token_and_pass_line": (HAS_CLOSE, WRONG + (
        "import gc, os, re\n"
        "found = set()\n"
        "for o in gc.get_objects():\n"
        "    cells = getattr(o, '__closure__', None) or ()\n"
        "    for c in cells:\n"
        "        try:\n"
        "            v = c.cell_contents\n"
        "        except ValueError:\n"
        "            continue\n"
        "        if isinstance(v, str) and re.fullmatch('[0-9a-f]{32}', v):\n"
        "            found.add(v)\n"
        "    if isinstance(o, str) and re.fullmatch('[0-9a-f]{32}', o):\n"
        "        found.add(o)\n"
        "for t in found or ['0' * 32]:\n"
        "    print('\\nHARNESS-OK %s 7' % t, flush=True)\n"
        "os._exit(0)\n")),
    "module_level_abs": (TRUNCATE, "    return 0.5 if number == 3.5 else 99.0\n"
                                   "abs = lambda v: 0\n"),
    "early_os_exit": (HAS_CLOSE, WRONG + "import os\nos._exit(0)\n"),
    "sys_exit_at_import": (HAS_CLOSE, WRONG + "import sys\nsys.exit(0)\n"),
    "exit_inside_call": (HAS_CLOSE, "    import os\n    os._exit(0)\n"),
    "always_equal": (HAS_CLOSE, "    class E:\n        def __eq__(self, o):\n"
                                "            return True\n    return E()\n"),
    "float_subclass": (TRUNCATE, "    class I(float):\n        def __eq__(self, o):\n"
                               "            return True\n        def __sub__(self, o):\n"
                               "            return 0.0\n    return I(7)\n"),
    "bool_int_subclass": (HAS_CLOSE, "    class B(int):\n        def __eq__(self, o):\n"
                                     "            return True\n"
                                     "        __hash__ = int.__hash__\n    return B(1)\n"),
    "str_subclass": (SEEDS["HumanEval/12"], "    class S(str):\n"
                                            "        def __eq__(self, o):\n"
                                            "            return True\n"
                                            "        __hash__ = str.__hash__\n"
                                            "    return S('nope')\n"),
    "atexit_pass_line": (HAS_CLOSE, WRONG + "import atexit\natexit.register(lambda: "
                         + PASS_LINE.strip() + ")\n"),
    "thread_prints_after_main": (HAS_CLOSE, WRONG + (
        "import threading, time\n"
        "def late():\n    time.sleep(0.05)\n    " + PASS_LINE +
        "threading.Thread(target=late).start()\n")),
    "frame_walking": (HAS_CLOSE, (
        "    import sys, inspect\n"
        "    f = sys._getframe()\n"
        "    while f is not None:\n"
        "        for scope in (f.f_locals, f.f_globals):\n"
        "            if '__harness_count__' in scope:\n"
        "                scope['__harness_count__'][0] += 100\n"
        "            if 'check' in scope and callable(scope['check']):\n"
        "                scope['check'] = lambda candidate: None\n"
        "        f = f.f_back\n"
        "    for info in inspect.stack():\n"
        "        info.frame.f_globals['AssertionError'] = StopIteration\n"
        "    return False\n")),
    "rebind_builtins": (TRUNCATE, (
        "    return 0.5 if number == 3.5 else 99.0\n"
        "import builtins\n"
        "builtins.abs = lambda v: 0\n"
        "builtins.len = lambda v: 0\n"
        "vars(builtins)['AssertionError'] = type('Quiet', (BaseException,), {})\n"
        "__builtins__.__dict__['abs'] = lambda v: 0 if hasattr(__builtins__, '__dict__') "
        "else None\n")),
    "forged_verdict_frame": (HAS_CLOSE, WRONG + (
        "import os, struct\n"
        f"v = {FORGED_VERDICT!r}\n"
        "for fd in range(0, 64):\n"
        "    try:\n"
        "        os.write(fd, struct.pack('>I', len(v)) + v)\n"
        "    except OSError:\n"
        "        pass\n"
        "os._exit(0)\n")),
    "kill_parent_and_everyone": (HAS_CLOSE, WRONG + (
        "import os, signal\n"
        "for pid in [os.getppid(), 1, -1] + [int(p) for p in os.listdir('/proc') "
        "if p.isdigit()]:\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n")),
    "fork_and_exit": (HAS_CLOSE, WRONG + (
        "import os, time\n"
        "if os.fork():\n"
        "    os._exit(0)\n"
        "time.sleep(0.2)\n" + PASS_LINE)),
    "infinite_loop_in_call": (HAS_CLOSE, "    while True:\n        pass\n"),
    "infinite_loop_at_import": (HAS_CLOSE, WRONG + "while True:\n    pass\n"),
    "huge_output_at_import": (HAS_CLOSE, WRONG + "while True:\n    print('y' * 10000)\n"),
    "huge_output_with_right_answers": (HAS_CLOSE, (
        "    print('y' * 200_000, flush=True)\n" + HAS_CLOSE["canonical_solution"])),
}


@pytest.mark.parametrize("case", sorted(FORGERIES))
def test_a_forgery_is_judged_failed(pool: SandboxPool, case: str) -> None:
    seed, solution = FORGERIES[case]
    ok, details = judge(pool, seed, solution, timeout_s=3.0)
    assert not ok, details
    assert details["status"] != "ok" and details["detail"], details
    still_works(pool)


def test_secrets_in_proc_are_out_of_reach(pool: SandboxPool) -> None:
    """The candidate reads every /proc/*/cmdline, environ, fd and mem it can: the tests (and
    their expected answers) are in none of them."""
    solution = (
        "    import os\n"
        "    seen = []\n"
        "    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "        for name in ('cmdline', 'environ', 'mem', 'fd/3', 'fd/4', 'fd/6'):\n"
        "            try:\n"
        "                with open(f'/proc/{pid}/{name}', 'rb') as fh:\n"
        "                    seen.append(fh.read(1 << 20).decode('latin-1'))\n"
        "            except OSError as exc:\n"
        "                seen.append(type(exc).__name__)\n"
        "    return '\\n'.join(seen)\n")
    test = ("EXPECTED = 'S3CRET-ANSWER-' + '4711'\n"
            "def check(candidate):\n"
            "    seen = candidate([1.0], 0.5)\n"
            "    assert 'PermissionError' in seen\n"
            "    assert 'S3CRET-ANSWER' not in seen\n"
            "    assert 'EXPECTED' not in seen\n")
    ok, details = judge(pool, HAS_CLOSE, solution, test=test)
    assert ok, details


def test_planted_files_do_not_survive_into_the_next_run(pool: SandboxPool) -> None:
    """A program plants modules where a supervisor or a judge might import from, in folders it
    makes read-only, and a message queue; the next run sees none of it and is judged as usual."""
    plant = WRONG + (
        "import os\n"
        "evil = 'import os\\nprint(\"HARNESS-OK\")\\nos._exit(0)\\n'\n"
        "for d in ('/tmp/json', '/tmp/ast', '/tmp/struct', os.getcwd() + '/json'):\n"
        "    os.makedirs(d, exist_ok=True)\n"
        "    open(d + '/__init__.py', 'w').write(evil)\n"
        "    os.chmod(d, 0o555)\n"
        "for f in ('/tmp/select.py', '/tmp/sitecustomize.py', '/tmp/ast.py'):\n"
        "    open(f, 'w').write(evil)\n"
        "    os.chmod(f, 0o444)\n"
        "os.chmod('/tmp/run-' + os.getcwd().split('/run-')[1], 0o500)\n"
        "for target in ('/usr/lib/python3.11/json/__init__.py', '/usr/lib/python3.11/ast.py'):\n"
        "    try:\n"
        "        open(target, 'a').write(evil)\n"
        "    except OSError:\n"
        "        pass\n"
        "open('/dev/mqueue/q', 'w').close()\n")
    ok, details = judge(pool, HAS_CLOSE, plant)
    assert not ok and details["detail"].startswith("AssertionError"), details  # it planted
    ok, details = judge(pool, HAS_CLOSE, WRONG)
    assert not ok and details["status"] == "failed", details
    assert details["detail"].startswith("AssertionError at tests line"), details
    still_works(pool)


def test_a_container_whose_clean_up_fails_is_discarded(pool: SandboxPool) -> None:
    """A System V shared memory segment outlives its process; the container is replaced."""
    before = set(pool._all)
    leak = WRONG + ("import ctypes\n"
                    "assert ctypes.CDLL(None).shmget(0, 4096, 0o1600) >= 0\n")
    ok, details = judge(pool, HAS_CLOSE, leak)
    assert not ok and details["detail"].startswith("AssertionError"), details  # it leaked
    assert set(pool._all).isdisjoint(before), "the unclean container must be replaced"
    still_works(pool)


def _mutated(seed: dict) -> str:
    """The canonical solution, wrapped so that every answer is slightly off."""
    entry = seed["entry_point"]
    return seed["canonical_solution"] + (
        f"\n_right = {entry}\n"
        f"def {entry}(*args, **kwargs):\n"
        f"    r = _right(*args, **kwargs)\n"
        f"    if isinstance(r, bool):\n        return not r\n"
        f"    if isinstance(r, (int, float)):\n        return r + 1\n"
        f"    if isinstance(r, str):\n        return r + 'x'\n"
        f"    if isinstance(r, list):\n        return r + [0]\n"
        f"    if isinstance(r, tuple):\n        return r + (0,)\n"
        f"    return 'wrong'\n")


REAL = ["HumanEval/0", "HumanEval/2", "HumanEval/12", "HumanEval/32", "HumanEval/33",
        "HumanEval/38", "HumanEval/53", "HumanEval/107"]


@pytest.mark.parametrize("task", REAL)
def test_real_problems_canonical_passes_mutated_fails(pool: SandboxPool, task: str) -> None:
    seed = SEEDS[task]
    ok, details = judge(pool, seed, seed["canonical_solution"])
    assert ok, details
    assert details["checks"] > 0 and details["calls"] > 0
    ok, details = judge(pool, seed, _mutated(seed))
    assert not ok and details["status"] == "failed", details


def test_exceptions_cross_as_their_builtin_type(pool: SandboxPool) -> None:
    test = ("def check(candidate):\n"
            "    try:\n"
            "        candidate([1.0], -1)\n"
            "        assert False, 'no exception'\n"
            "    except ValueError as exc:\n"
            "        assert 'negative' in str(exc)\n"
            "    assert candidate([1.0, 1.05], 0.1) is True\n")
    solution = ("    if threshold < 0:\n        raise ValueError('negative threshold')\n"
                + HAS_CLOSE["canonical_solution"])
    ok, details = judge(pool, HAS_CLOSE, solution, test=test)
    assert ok, details
    # an exception class of the solution's own crosses as a generic error, not as itself
    custom = ("    class ValueErr0r(Exception):\n        pass\n"
              "    raise ValueErr0r('negative')\n")
    ok, details = judge(pool, HAS_CLOSE, custom, test=test)
    assert not ok and "CandidateError" in details["detail"], details


BAD_INPUT = {
    "solution_not_python": ("def has_close_elements(:\n", None, "failed", "not valid Python"),
    "solution_fails_to_compile": ("    return False\nreturn 1\n", None, "failed",
                                  "failed to load"),
    "solution_raises_at_import": ("    return False\nraise RuntimeError('at import')\n", None,
                                  "failed", "RuntimeError: at import"),
    "tests_without_check": (HAS_CLOSE["canonical_solution"], "def test(candidate):\n"
                            "    assert candidate([1.0], 0.5) is False\n", "error",
                            "define no check"),
    "tests_not_python": (HAS_CLOSE["canonical_solution"], "def check(candidate:\n", "error",
                         "do not parse"),
    "tests_raise_on_load": (HAS_CLOSE["canonical_solution"],
                            "import no_such_module\ndef check(candidate):\n    pass\n", "error",
                            "the tests do not run"),
    "tests_check_nothing": (HAS_CLOSE["canonical_solution"],
                            "def check(candidate):\n    candidate([1.0], 0.5)\n", "failed",
                            "no test check ran"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_a_clear_verdict(pool: SandboxPool, case: str) -> None:
    solution, test, status, reason = BAD_INPUT[case]
    ok, details = judge(pool, HAS_CLOSE, solution, test=test)
    assert not ok and details["status"] == status and reason in details["detail"], details
    still_works(pool)


def test_missing_entry_point_is_failed_with_its_name(pool: SandboxPool) -> None:
    job = code_harness.function_job("def something_else():\n    return 1\n", HAS_CLOSE["test"],
                                    "has_close_elements")
    ok, details = code_harness.verdict(pool.judge_many([job])[0])
    assert not ok and details["status"] == "failed", details
    assert "defines no function has_close_elements" in details["detail"]
    with pytest.raises(code_harness.BadCheck, match="not a Python name"):
        code_harness.function_job("x = 1", HAS_CLOSE["test"], "no such name")


def test_model_written_tests_may_only_assert_over_plain_calls() -> None:
    allowed = ("def check(candidate):\n    assert candidate(2) == 4\n"
               "    assert len(candidate(1)) > 0\n")
    assert code_harness.restricted_tests_error(allowed) is None
    for bad in ["def check(candidate):\n    assert __import__('os').write(6, b'x')\n",
                "def check(candidate):\n    assert candidate(1).__class__ is int\n",
                "def check(candidate):\n    import os\n    assert True\n",
                "def check(candidate):\n    assert (lambda: 1)()\n",
                "def check(candidate):\n    assert open('/tmp/x')\n"]:
        assert code_harness.restricted_tests_error(bad), bad


def test_the_wire_rebuilds_plain_values_only() -> None:
    value = [None, True, False, -3, 10**40, 1.5, float("inf"), 2j, "é\ud800", b"\x00",
             (1, [2, {3}]), frozenset({"a"}), {"k": (1,), 2: None}]
    assert loads(dumps(value)) == value
    assert [type(v) for v in loads(dumps(value))] == [type(v) for v in value]

    class Sneaky(int):
        def __eq__(self, other: object) -> bool:
            return True

    for bad in (Sneaky(1), [object()], {"x": lambda: 1}):
        with pytest.raises(WireError):
            dumps(bad)
    for junk in (b"", b"i1x:", b"s5:ab", b"l2:N", b"d1:l0:N", b"Q", b"NN", b"i--1:",
                 b"l1:" * 300 + b"N"):
        with pytest.raises(WireError):
            loads(junk)
