"""Function checks for model-written code: a pass means the tests ran apart from the code they
judge, every call was answered with plain data, at least one check ran and every one held.

The judge never shares a process, a namespace, a user or a writable import path with the code it
judges. In the sandbox (sandbox_supervisor.py) the tests run in a judge process as one user
(sandbox_judge.py): the problem's own code (``context``, e.g. HumanEval's prompt with helpers
such as ``poly``) and the tests, in the judge's namespace and builtins. The solution runs in
another process as another user (sandbox_candidate.py); ``candidate(...)`` in the tests sends the
arguments there as data and rebuilds the answer as a plain value (sandbox_wire.py): an object
whose ``==`` is always true, an int or str subclass, a patched builtin, a frame walk, an early
exit, a printed imitation of a pass or a token dug out of memory reach nothing the judge trusts.
The verdict comes on a pipe only the judge holds. An exception the solution raises crosses as
its type's name and message and is raised again on the judge's side (as the built-in exception
of that name, else as ``CandidateError``).

Tests a model wrote (not the problem's own) are judged code too: ``restricted_tests_error``
accepts them only as asserts over ``candidate(...)``, literals and a few pure builtins.
"""

from __future__ import annotations

import ast
import threading
from typing import Any, Literal

from verifiers.sandbox import RunResult


class BadCheck(ValueError):
    """A check that cannot run: ``status`` 'failed' (the solution's fault) or 'error' (the
    tests' or the caller's)."""

    def __init__(self, status: Literal["failed", "error"], reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


PURE_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "dict", "float", "frozenset", "int", "len", "list", "max",
    "min", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip"})
_RESTRICTED_NODES = (ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Assert,
                     ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.Call, ast.Name,
                     ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Subscript,
                     ast.Slice, ast.keyword, ast.expr_context, ast.operator, ast.cmpop,
                     ast.boolop, ast.unaryop)


_PARSE_LOCK = threading.Lock()


def parse(source: str) -> ast.Module:
    """``ast.parse`` one thread at a time: CPython 3.11 keeps the AST builder's recursion count
    per interpreter, so two threads parsing at once can fail with "AST constructor recursion
    depth mismatch" (python/cpython#106905), and the embedded runner checks in threads."""
    with _PARSE_LOCK:
        return ast.parse(source)


def restricted_tests_error(test_code: str) -> str | None:
    """Why model-written tests may not run (None if they may): only ``def check(candidate):``
    with asserts over calls of ``candidate`` and of a few pure builtins, literals and operators -
    no attributes, no other names, no other statements."""
    try:
        tree = parse(test_code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return f"the tests do not parse: {exc}"
    if (len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef)
            or tree.body[0].name != "check" or tree.body[0].decorator_list
            or [a.arg for a in tree.body[0].args.args] != ["candidate"]):
        return "model-written tests must be one def check(candidate) of asserts"
    for node in ast.walk(tree.body[0]):
        if not isinstance(node, _RESTRICTED_NODES) or getattr(node, "returns", None):
            return f"model-written tests may not use {type(node).__name__}"
        if isinstance(node, ast.FunctionDef) and node is not tree.body[0]:
            return "model-written tests may not define functions"
        if node in tree.body[0].body and not isinstance(node, ast.Assert):
            return "model-written tests may hold only asserts"
        if isinstance(node, ast.Name) and node.id != "candidate" and (
                node.id not in PURE_BUILTINS or node.id.startswith("_")):
            return f"model-written tests may not use the name {node.id}"
        if isinstance(node, ast.Call) and not isinstance(node.func, ast.Name):
            return "model-written tests may call only candidate and pure builtins"
    return None


def function_job(solution: str, test_code: str, entry_point: str, context: str = "", *,
                 restricted: bool = False, call_timeout: float = 10.0,
                 data: Any = None, discard_output: bool = False) -> dict[str, Any]:
    """The sandbox job of one check (raises BadCheck for input that cannot be judged).

    ``context`` is trusted problem code the tests may use (run in the judge, never the
    solution's); ``restricted`` marks tests a model wrote (see restricted_tests_error);
    ``data``: a JSON value the tests read as ``harness_data`` (inputs, kept out of code);
    ``discard_output``: the solution's stdout and stderr go unread (no output cap can end the
    run, so what one call prints cannot fail a later one).
    """
    if not entry_point.isidentifier():
        raise BadCheck("error", f"the entry point {entry_point!r} is not a Python name")
    try:
        tests = parse(test_code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise BadCheck("error", f"the tests do not parse: {exc}") from None
    defined = {t.id for node in tests.body if isinstance(node, ast.Assign)
               for t in node.targets if isinstance(t, ast.Name)}
    defined |= {node.name for node in tests.body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    if "check" not in defined:
        raise BadCheck("error", "the tests define no check(candidate)")
    if restricted and (why := restricted_tests_error(test_code)):
        raise BadCheck("failed", why)
    try:
        parse(solution)
    except SyntaxError as exc:
        raise BadCheck("failed", f"the solution is not valid Python: {exc.msg} "
                                 f"(line {exc.lineno})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise BadCheck("failed", f"the solution is not valid Python: {exc}") from None
    return {"solution": solution, "test": test_code, "entry_point": entry_point,
            "context": context or "", "call_timeout": call_timeout, "data": data,
            "discard_output": discard_output}


def verdict(result: RunResult) -> tuple[bool, dict[str, Any]]:
    """(passed, details) of a function check's run: passed only if the judge said so and the
    run itself was sound (no timeout, no overflow)."""
    v = result.verdict or {}
    ok = result.status == "ok" and v.get("passed") is True and int(v.get("checks", 0)) > 0
    reason = v.get("reason") or result.detail
    if result.status == "timeout":
        reason = "the run passed its time limit"
    elif result.status == "killed":
        reason = result.detail or ("the solution's output passed the limit" if result.truncated
                                   else "the run was killed")
    elif result.verdict is None and not reason:
        reason = "the judge gave no verdict"
    return ok, {"status": result.status, "exit_code": result.exit_code,
                "checks": int(v.get("checks", 0)), "calls": int(v.get("calls", 0)),
                "duration_s": result.duration_s, "detail": None if ok else reason,
                "stdout": result.stdout, "stderr": result.stderr,
                "test_output": result.judge_output}
