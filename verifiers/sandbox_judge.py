"""The judge's side of a function check: runs in the sandbox as the judge's user, never the
candidate's, and never in the candidate's process.

Run as ``python3 -I -S -c <sandbox_wire.py + this file>``. It reads the job from fd 3 (a dict:
test, entry_point, context, call_timeout, data), runs the problem's own code (``context``: the
prompt, for helpers the tests use) and the tests in its own namespace, with every ``assert``
counted, and calls ``check(candidate)`` where ``candidate`` sends each call's arguments as data
to the candidate's process (fd 4) and rebuilds its answer from fd 5 as a plain value. The
verdict goes out as one frame on fd 6, a pipe only this process holds: {passed, checks, calls,
reason, error, report}.

Trusted tests that ask the candidate about many inputs (factory/verification_functions.py) find
the inputs as ``harness_data`` (a plain value, never spliced into code) and append what they
learn to ``harness_report``, which comes back in the verdict as plain data.
"""

import ast
import builtins
import os
import sys

if __name__ != "__main__":  # on the host; in the sandbox sandbox_wire.py comes first
    from verifiers.sandbox_wire import WireError, dumps, loads, read_frame, write_frame

JOB_FD, REQ_FD, REP_FD, VERDICT_FD = 3, 4, 5, 6
TESTS = "<tests>"


class CandidateGone(BaseException):  # noqa: N818 - not an Exception: tests must not swallow it
    """The candidate's process no longer answers (exited, timed out, broke the protocol)."""


class CandidateError(Exception):
    """The candidate raised an exception that is not one of Python's built-in ones."""


class _CountAsserts(ast.NodeTransformer):
    """``assert c, m`` -> count it, then ``if not c: raise AssertionError(m)``."""

    def visit_Assert(self, node):
        bump = ast.parse("__harness_count__[0] += 1").body[0]
        exc = ast.Call(ast.Name("AssertionError", ast.Load()),
                       [node.msg] if node.msg else [], [])
        check = ast.If(ast.UnaryOp(ast.Not(), node.test), [ast.Raise(exc, None)], [])
        for new in (bump, check):
            ast.copy_location(new, node)
            for child in ast.walk(new):
                ast.copy_location(child, node)
        return [bump, check]


class Candidate:
    def __init__(self, call_timeout):
        self.call_timeout = call_timeout
        self.broken = None
        self.ready = False
        self.calls = 0

    def _break(self, reason):
        self.broken = reason
        raise CandidateGone(reason)

    def wait_ready(self):
        if self.ready or self.broken:
            return
        try:
            reply = read_frame(REP_FD, self.call_timeout)
        except EOFError:
            self.broken = "the solution exited before its function was called"
            return
        except TimeoutError:
            self.broken = "the solution did not load in time"
            return
        except (WireError, OSError) as exc:
            self.broken = f"the solution broke the protocol: {exc}"
            return
        if reply == ("ready",):
            self.ready = True
        elif type(reply) is tuple and len(reply) == 2 and reply[0] == "load_error":
            self.broken = f"the solution failed to load: {str(reply[1])[:1000]}"
        else:
            self.broken = "the solution broke the protocol"

    def __call__(self, *args, **kwargs):
        self.wait_ready()
        if self.broken:
            raise CandidateGone(self.broken)
        try:
            request = dumps(("call", args, kwargs))
        except (WireError, RecursionError, ValueError) as exc:
            raise TypeError(f"the tests passed a value the sandbox cannot send: {exc}") from None
        try:
            write_frame(REQ_FD, request, encoded=True)
            reply = read_frame(REP_FD, self.call_timeout)
        except EOFError:
            self._break("the solution's process exited during a call")
        except TimeoutError:
            self._break(f"a call took longer than {self.call_timeout:g} s")
        except (WireError, OSError) as exc:
            self._break(f"the solution broke the protocol: {exc}")
        self.calls += 1
        kind = reply[0] if type(reply) is tuple and reply else None
        if kind == "ok" and len(reply) == 2:
            return reply[1]  # rebuilt by loads: plain built-in values only
        if kind == "raise" and len(reply) == 3:
            name, message = str(reply[1])[:100], str(reply[2])[:1000]
            cls = vars(builtins).get(name)
            if isinstance(cls, type) and issubclass(cls, Exception):
                try:
                    error = cls(message)
                except Exception:  # noqa: BLE001 - e.g. UnicodeDecodeError wants 5 arguments
                    error = CandidateError(f"{name}: {message}")
            else:
                error = CandidateError(f"{name}: {message}")
            raise error
        if kind == "bad" and len(reply) == 2:
            raise TypeError(f"the candidate {str(reply[1])[:500]}: only plain values count")
        self._break("the solution broke the protocol")


def _where(exc, lines):
    """' (tests line N: source)' for the innermost frame of the tests in exc's traceback."""
    tb, found = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == TESTS:
            found = tb.tb_lineno
        tb = tb.tb_next
    if found is None or not 0 < found <= len(lines):
        return ""
    return f" at tests line {found}: {lines[found - 1].strip()[:300]}"


def _read_job():
    chunks = []
    while True:
        chunk = os.read(JOB_FD, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(JOB_FD)
    return loads(b"".join(chunks))


def judge(job):
    counter = [0]
    candidate = Candidate(float(job["call_timeout"]))
    report = []
    verdict = {"passed": False, "checks": 0, "calls": 0, "reason": None, "error": False,
               "report": report}
    namespace = {"__name__": "__tests__", "__harness_count__": counter,
                 "harness_data": job.get("data"), "harness_report": report}
    lines = job["test"].splitlines()
    try:
        if job.get("context"):
            exec(compile(job["context"], "<problem>", "exec"), namespace)
        # the tests' own references to the function (HumanEval/33 calls it by name) are the
        # candidate, as when the tests ran over the solution's module
        namespace[job["entry_point"]] = candidate
        tree = _CountAsserts().visit(ast.parse(job["test"], TESTS))
        exec(compile(ast.fix_missing_locations(tree), TESTS, "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001
        verdict.update(error=True, reason=f"the tests do not run: {type(exc).__name__}: "
                                          f"{str(exc)[:500]}{_where(exc, lines)}")
        return verdict
    check = namespace.get("check")
    if not callable(check):
        verdict.update(error=True, reason="the tests define no check(candidate)")
        return verdict
    candidate.wait_ready()
    if candidate.broken:
        verdict["reason"] = candidate.broken
        return verdict
    try:
        check(candidate)
    except CandidateGone:
        pass
    except BaseException as exc:  # noqa: BLE001 - SystemExit from a test is a failure too
        message = str(exc)[:500]
        verdict["reason"] = (f"{type(exc).__name__}{': ' + message if message else ''}"
                             f"{_where(exc, lines)}")
    verdict.update(checks=counter[0], calls=candidate.calls)
    try:
        dumps(report)
    except (WireError, RecursionError, ValueError):
        report.clear()
        verdict.update(error=True, reason="the tests reported something that is not plain data")
        return verdict
    if candidate.broken:
        verdict["reason"] = candidate.broken
    elif verdict["reason"] is None and counter[0] == 0:
        verdict["reason"] = "no test check ran"
    verdict["passed"] = verdict["reason"] is None
    return verdict


def main():
    try:
        verdict = judge(_read_job())
    except BaseException as exc:  # noqa: BLE001
        verdict = {"passed": False, "checks": 0, "calls": 0, "error": True,
                   "reason": f"the judge failed: {type(exc).__name__}: {str(exc)[:500]}"}
    os.close(REQ_FD)  # the candidate's server sees the end of its calls
    sys.stdout.flush()
    write_frame(VERDICT_FD, verdict)
    os.close(VERDICT_FD)


if __name__ == "__main__":
    main()
