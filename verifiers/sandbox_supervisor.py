"""Runs inside a sandbox container (as the unprivileged user) for a few program executions.

Passed to ``python3 -S -c`` with one argument: hex-encoded JSON {jobs: [{code, stdin,
timeout}], cap}. For each job in turn it writes the program into a fresh folder on the tmpfs,
runs it in its own session with a wall-clock timeout and capped output, kills every process
the program left behind, empties /tmp and prints one JSON result line - nothing of one run is
visible to the next. Several programs per exec share its cost, and only cheap modules are
imported (no subprocess, threading or tempfile): every exec pays for this interpreter's start.
"""

import contextlib
import json
import os
import select
import signal
import sys
import time


def run(args, cap):
    work = "/tmp/run-" + os.urandom(8).hex()
    os.mkdir(work, 0o700)
    with open(work + "/main.py", "w", encoding="utf-8") as fh:
        fh.write(args["code"])
    env = {"PATH": "/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}

    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the program: own session, fresh interpreter, isolated mode
        os.setsid()
        os.dup2(in_r, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.closerange(3, 1024)
        os.chdir(work)
        try:
            os.execve(sys.executable, [sys.executable, "-I", "-S", "main.py"], env)
        finally:
            os._exit(127)
    for fd in (in_r, out_w, err_w):
        os.close(fd)

    def kill_group():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

    pending = args["stdin"].encode()
    if not pending:
        os.close(in_w)
        in_w = None
    out = {out_r: bytearray(), err_r: bytearray()}
    open_fds = {out_r, err_r}
    status = None
    overflow = False
    deadline = start + args["timeout"]
    wait_status = None
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            status = "timeout"
            kill_group()
            break
        writers = [in_w] if in_w is not None else []
        # Short waits: the program may exit while a daemon it forked still holds its pipes.
        readable, writable, _ = select.select(list(open_fds), writers, [], min(left, 0.05))
        if writable:
            try:
                sent = os.write(in_w, pending[:65536])
                pending = pending[sent:]
            except OSError:
                pending = b""
            if not pending:
                os.close(in_w)
                in_w = None
        for fd in readable:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                continue
            buf = out[fd]
            room = cap - len(buf)
            buf += chunk[: max(room, 0)]
            if len(chunk) > room:
                overflow = True
                kill_group()
                open_fds.clear()
        if not readable and wait_status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                wait_status = st
                break  # exited, and nothing more to read right now
    if in_w is not None:
        os.close(in_w)
    while wait_status is None:  # output done; wait for the exit within the deadline
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            wait_status = st
        elif time.monotonic() > deadline:
            status = status or "timeout"
            kill_group()
            wait_status = os.waitpid(pid, 0)[1]
        else:
            time.sleep(0.002)
    duration = time.monotonic() - start
    rc = os.waitstatus_to_exitcode(wait_status)

    # Kill whatever the program left running (daemons that escaped its session), then wipe /tmp.
    me = os.getpid()
    for _ in range(50):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (me, 1)]
        if not others:
            break
        for other in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(other, signal.SIGKILL)
        time.sleep(0.01)

    def wipe(path):
        for entry in os.scandir(path):
            try:
                if entry.is_dir(follow_symlinks=False):
                    wipe(entry.path)
                    os.rmdir(entry.path)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass

    wipe("/tmp")
    for fd in (out_r, err_r):
        os.close(fd)
    if status is None:
        status = "killed" if overflow or rc < 0 else ("ok" if rc == 0 else "failed")
    return {
        "status": status,
        "exit_code": rc,
        "duration_s": round(duration, 4),
        "stdout": out[out_r].decode("utf-8", "replace"),
        "stderr": out[err_r].decode("utf-8", "replace"),
        "truncated": overflow,
    }


def main():
    request = json.loads(bytes.fromhex(sys.argv[1]))
    for job in request["jobs"]:
        # one line per program, flushed at once: if a later program kills this supervisor,
        # the results so far are not lost
        print(json.dumps(run(job, request["cap"])), flush=True)


main()
