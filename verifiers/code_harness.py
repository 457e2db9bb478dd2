"""Test harness for model-written code: a pass means every test ran and held.

The program the sandbox runs is: prologue, the solution, epilogue. The prologue reads a random
per-run token from stdin (before the solution can) and snapshots the builtins. The epilogue
restores the builtins; runs the tests over a copy of the solution's namespace (their own
``check`` replaces any the solution defined) with every ``assert`` rewritten into a counted
check; wraps the candidate so it must return plain built-in values (no object whose
``__eq__`` is always true); and only then prints the token with the number of checks that
held. An early ``sys.exit(0)`` / ``os._exit(0)`` or a printed imitation never carries the
token. (A solution that digs the token out of the interpreter's memory is out of this
harness's reach; the sandbox still contains it.)
"""

from __future__ import annotations

import ast
import secrets

MARK = "HARNESS-OK"

PROLOGUE = '''\
def __harness_make():
    import builtins, sys
    token = sys.stdin.readline().strip()
    live = vars(builtins)
    saved = dict(live)

    def finish(namespace, test_code, entry_point):
        live.clear()
        live.update(saved)
        plain = (int, float, complex, str, bytes, bool, type(None), list, tuple, dict, set,
                 frozenset)

        def check_plain(value, depth=0):
            if type(value) not in plain or depth > 50:
                raise TypeError(f"candidate returned {type(value).__name__}, not a plain value")
            if isinstance(value, (list, tuple, set, frozenset)):
                for item in value:
                    check_plain(item, depth + 1)
            elif isinstance(value, dict):
                for k, v in value.items():
                    check_plain(k, depth + 1)
                    check_plain(v, depth + 1)

        candidate = namespace[entry_point]

        def guarded(*args, **kwargs):
            result = candidate(*args, **kwargs)
            check_plain(result)
            return result

        counter = [0]
        # The tests see the solution's module (HumanEval's tests use its helpers and imports),
        # but their own definitions (check) replace anything the solution defined.
        tests = {**namespace, "__name__": "__tests__", "__harness_count__": counter}
        exec(test_code, tests)
        tests["check"](guarded)
        if counter[0] == 0:
            raise AssertionError("no test check ran")
        sys.stdout.flush()
        print("\\n%s %s %d" % ("''' + MARK + '''", token, counter[0]), flush=True)

    return finish


__harness_finish = __harness_make()
del __harness_make
'''


class _CountAsserts(ast.NodeTransformer):
    """``assert c, m`` -> count it, then ``if not c: raise AssertionError(m)``."""

    def visit_Assert(self, node: ast.Assert) -> list[ast.stmt]:
        bump = ast.parse("__harness_count__[0] += 1").body[0]
        exc = ast.Call(ast.Name("AssertionError", ast.Load()),
                       [node.msg] if node.msg else [], [])
        check = ast.If(ast.UnaryOp(ast.Not(), node.test), [ast.Raise(exc, None)], [])
        return [ast.copy_location(bump, node), ast.copy_location(check, node)]


def instrument_tests(test_code: str) -> str:
    """The test code with every assert counted (raises SyntaxError on broken tests)."""
    tree = _CountAsserts().visit(ast.parse(test_code))
    return ast.unparse(ast.fix_missing_locations(tree))


def build_program(solution: str, test_code: str, entry_point: str) -> tuple[str, str]:
    """(program, stdin) for one run: the token goes in on stdin, never in the source."""
    token = secrets.token_hex(16)
    epilogue = (f"\n\n__harness_finish(globals(), {instrument_tests(test_code)!r}, "
                f"{entry_point!r})\n")
    return PROLOGUE + "\n" + solution + epilogue, token + "\n"


def passed(stdout: str, token: str) -> tuple[bool, int]:
    """Whether the run printed this run's token as its last line; and how many checks held."""
    lines = stdout.rstrip("\n").splitlines()
    if not lines:
        return False, 0
    parts = lines[-1].split()
    if len(parts) == 3 and parts[0] == MARK and parts[1] == token.strip():
        return True, int(parts[2])
    return False, 0
