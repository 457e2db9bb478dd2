"""The candidate's side of a function check: runs in the sandbox as the candidate's user.

Run as ``python3 -I -S -c <sandbox_wire.py + this file> ENTRY_POINT``. It reads the solution
from fd 5, runs it as ``__main__``, then answers the judge's calls ("call", args, kwargs) on
fd 3 with frames on fd 4: ("ready",) | ("load_error", reason) first, then per call
("ok", value) | ("raise", type name, message) | ("bad", reason). Everything here runs in the
candidate's own process and the candidate may change any of it: it only ever controls its own
answers, which the judge rebuilds as plain data.
"""

import os
import sys

if __name__ != "__main__":  # on the host; in the sandbox sandbox_wire.py comes first
    from verifiers.sandbox_wire import WireError, dumps, read_frame, write_frame

REQ_FD, REP_FD, SRC_FD = 3, 4, 5


def _serve(entry_point):
    chunks = []
    while True:
        chunk = os.read(SRC_FD, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(SRC_FD)
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        code = compile(b"".join(chunks).decode("utf-8", "replace"), "main.py", "exec")
        exec(code, namespace)
    except BaseException as exc:  # noqa: BLE001 - sys.exit() at import is a load failure too
        import traceback

        traceback.print_exc()
        write_frame(REP_FD, ("load_error", _describe(exc)))
        return 1
    fn = namespace.get(entry_point)
    if not callable(fn):
        write_frame(REP_FD, ("load_error", f"the solution defines no function {entry_point}"))
        return 1
    write_frame(REP_FD, ("ready",))
    while True:
        try:
            message = read_frame(REQ_FD)
        except EOFError:
            return 0
        _, args, kwargs = message
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - crosses as a name and a message
            write_frame(REP_FD, ("raise", _name(exc), _describe(exc, False)))
            continue
        try:
            reply = dumps(("ok", result))
        except (WireError, RecursionError, ValueError) as exc:
            reply = dumps(("bad", f"returned {_name(result)} ({str(exc)[:300]})"))
        write_frame(REP_FD, reply, encoded=True)


def _name(obj):
    try:
        return str(type(obj).__name__)[:100]
    except BaseException:  # noqa: BLE001
        return "?"


def _describe(exc, with_type=True):
    try:
        text = str(exc)[:1000]
    except BaseException:  # noqa: BLE001
        text = ""
    return f"{_name(exc)}: {text}" if with_type else text


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1]))
