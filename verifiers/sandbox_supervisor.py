"""Runs inside a sandbox container (as the unprivileged user) for one program execution.

Passed to ``python3 -c`` with one argument: base64 JSON {code, stdin, timeout, cap}. It writes
the program into a fresh folder on the tmpfs, runs it in its own session with a wall-clock
timeout and capped output, then kills every process the program left behind, empties /tmp and
prints one JSON result line. Nothing of one run is visible to the next.
"""

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

args = json.loads(base64.b64decode(sys.argv[1]))
cap = args["cap"]
work = tempfile.mkdtemp(dir="/tmp")
with open(os.path.join(work, "main.py"), "w", encoding="utf-8") as fh:
    fh.write(args["code"])
env = {"PATH": "/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
start = time.monotonic()
proc = subprocess.Popen([sys.executable, "-I", "main.py"], cwd=work, env=env,
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        start_new_session=True)
out = {"stdout": bytearray(), "stderr": bytearray()}
overflow = threading.Event()


def kill_group():
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def pump(name, stream):
    buf = out[name]
    while chunk := stream.read(65536):
        room = cap - len(buf)
        buf += chunk[: max(room, 0)]
        if len(chunk) > room:
            overflow.set()
            kill_group()
            break


def feed():
    try:
        proc.stdin.write(args["stdin"].encode())
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass


threads = [threading.Thread(target=pump, args=(n, getattr(proc, n)), daemon=True)
           for n in ("stdout", "stderr")] + [threading.Thread(target=feed, daemon=True)]
for t in threads:
    t.start()
status = None
try:
    rc = proc.wait(timeout=args["timeout"])
except subprocess.TimeoutExpired:
    kill_group()
    rc = proc.wait()
    status = "timeout"
duration = time.monotonic() - start
for t in threads[:2]:
    t.join(1.0)

# Kill whatever the program left running (daemons that escaped its session), then wipe /tmp.
me = os.getpid()
for _ in range(50):
    others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (me, 1)]
    if not others:
        break
    for pid in others:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.01)
for name in os.listdir("/tmp"):
    path = os.path.join("/tmp", name)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)

if status is None:
    status = "killed" if overflow.is_set() or rc < 0 else ("ok" if rc == 0 else "failed")
print(json.dumps({"status": status, "exit_code": rc, "duration_s": round(duration, 4),
                  "stdout": out["stdout"].decode("utf-8", "replace"),
                  "stderr": out["stderr"].decode("utf-8", "replace"),
                  "truncated": overflow.is_set()}))
