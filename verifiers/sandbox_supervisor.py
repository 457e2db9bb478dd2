"""Runs inside a sandbox container for a few program executions, as the container's root with
only the capabilities to change user, signal and clean up (SETUID, SETGID, KILL, DAC_OVERRIDE,
FOWNER); whatever it starts runs as an unprivileged user with no capabilities at all.

Started as ``python3 -I -S -c <sandbox_wire.py + this file>`` with the working directory ``/``
(no writable directory on its import path). The request comes on stdin, never on a command
line: an 8-byte length, then JSON {jobs, cap, judge, candidate}. For each job it prints one
JSON result line.

- ``program`` {code, stdin, timeout}: the program runs as user 65534 in a fresh folder on the
  tmpfs, in its own session, with a wall-clock timeout and capped output; its output is for the
  caller to compare, outside the sandbox.
- ``function`` {solution, test, entry_point, context, timeout, call_timeout, data}: the judge
  (``judge`` source) runs the tests as user 65533; the candidate (``candidate`` source) runs the
  solution as user 65534 and answers calls as data over pipes. The verdict comes on a pipe only
  the judge holds; the candidate's stdout is just output (with ``discard_output`` it goes to
  /dev/null, unread and uncapped). Neither can signal, trace or read the
  other or this process.

After each job every process but this one and PID 1 is killed and /tmp and /dev/mqueue are
emptied; if anything is left (a process, a file, a System V IPC object), the result says
``clean: false`` and the supervisor stops, and the host discards the container.
"""

import contextlib
import json
import os
import select
import signal
import struct
import time

if __name__ != "__main__":  # on the host; in the sandbox sandbox_wire.py comes first
    from verifiers.sandbox_wire import WireError, dumps, loads

PYTHON = "/usr/bin/python3"
JUDGE_UID, CANDIDATE_UID = 65533, 65534
JUDGE_CAP = 256_000


def read_request():
    def exact(n):
        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(0, n - len(buf))
            if not chunk:
                raise EOFError("request cut short")
            buf += chunk
        return bytes(buf)

    (size,) = struct.unpack(">Q", exact(8))
    return json.loads(exact(size))


def spawn(uid, argv, fds, workdir=None, code=None):
    """A child as uid (no capabilities left), fds {its fd: our fd}, in its own session.

    With ``workdir`` it makes that folder (as uid) and works there; ``code`` is written into
    ``workdir/main.py`` first. The child's copy of this process's memory ends at its execve.
    """
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)
        fds = {0: null, **fds}
        for target, source in fds.items():
            os.dup2(source, 300 + target)
        for target in fds:
            os.dup2(300 + target, target)
        os.closerange(max(fds) + 1, 4096)
        if uid == CANDIDATE_UID:  # the first the kernel kills when memory runs out
            with open("/proc/self/oom_score_adj", "w") as fh:
                fh.write("1000")
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        cwd = "/"
        if workdir:
            os.mkdir(workdir, 0o700)
            cwd = workdir
            if code is not None:
                with open(workdir + "/main.py", "w", encoding="utf-8") as fh:
                    fh.write(code)
        os.chdir(cwd)
        env = {"PATH": "/usr/bin:/bin", "HOME": cwd, "LANG": "C.UTF-8"}
        os.execve(PYTHON, argv, env)
    finally:
        os._exit(127)


def kill_group(pid):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def reap(pid, block=False):
    """The exit code of our child pid if it has exited (None if not, or already reaped)."""
    try:
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if done else None


class Pump:
    """Moves bytes between this process and its children's pipes."""

    def __init__(self, deadline):
        self.deadline = deadline
        self.reads = {}  # open fd -> [cap, on_overflow]
        self.bufs = {}  # fd -> what was read (kept after the fd closes)
        self.writes = {}  # fd -> bytes still to write

    def read(self, fd, cap, on_overflow=None):
        self.reads[fd] = [cap, on_overflow]
        self.bufs[fd] = bytearray()

    def write(self, fd, data):
        if data:
            os.set_blocking(fd, False)
            self.writes[fd] = memoryview(data)
        else:
            os.close(fd)

    def text(self, fd):
        return self.bufs[fd].decode("utf-8", "replace")

    def step(self, wait):
        """One round of select; None once the deadline has passed, else whether any fd
        was readable."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            return None
        if not self.reads and not self.writes:
            time.sleep(min(left, 0.002))
            return False
        readable, writable, _ = select.select(list(self.reads), list(self.writes), [],
                                              min(left, wait))
        for fd in writable:
            try:
                sent = os.write(fd, self.writes[fd])
                self.writes[fd] = self.writes[fd][sent:]
            except BlockingIOError:
                continue
            except OSError:
                self.writes[fd] = b""
            if not self.writes[fd]:
                del self.writes[fd]
                os.close(fd)
        for fd in readable:
            self._read(fd)
        return bool(readable)

    def _read(self, fd):
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            del self.reads[fd]
            os.close(fd)
            return False
        entry, buf = self.reads[fd], self.bufs[fd]
        room = entry[0] - len(buf)
        buf += chunk[: max(room, 0)]
        if len(chunk) > room and entry[0] >= 0:
            entry[0] = -1  # keep draining, keep nothing more
            if entry[1]:
                entry[1]()
        return True

    def drain(self):
        """After every writer is dead: what is left in the pipes, then close them all."""
        for fd in list(self.reads):
            os.set_blocking(fd, False)
            while fd in self.reads and self._read(fd):
                pass
        for fd in list(self.reads) + list(self.writes):
            os.close(fd)
        self.reads, self.writes = {}, {}


def clean_up():
    """Kill every process but this one and PID 1, empty the writable places; True if clean."""
    me = os.getpid()
    for _ in range(100):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (me, 1)]
        if not others:
            break
        for other in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(other, signal.SIGKILL)
        while reap(-1) is not None:
            pass
        time.sleep(0.005)
    else:
        return False

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

    places = ["/tmp", "/dev/mqueue"]
    for place in places:
        if os.path.isdir(place):
            wipe(place)
    if any(os.path.isdir(p) and os.listdir(p) for p in places):
        return False
    for kind in ("msg", "sem", "shm"):  # System V IPC objects outlive their processes
        try:
            with open("/proc/sysvipc/" + kind) as fh:
                if len(fh.read().splitlines()) > 1:
                    return False
        except OSError:
            pass
    return True


def run_program(job, cap):
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe()
    start = time.monotonic()
    pid = spawn(CANDIDATE_UID, [PYTHON, "-I", "-S", "main.py"], {0: in_r, 1: out_w, 2: err_w},
                workdir="/tmp/run-" + os.urandom(8).hex(), code=job["code"])
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    overflow = []
    pump = Pump(start + job["timeout"])

    def too_much():
        overflow.append(True)
        kill_group(pid)

    pump.read(out_r, cap, too_much)
    pump.read(err_r, cap, too_much)
    pump.write(in_w, job["stdin"].encode())
    rc = status = None
    while True:
        busy = pump.step(0.05)
        if busy is None:
            status = "timeout"
            break
        if rc is None:
            rc = reap(pid)
        # exited, and nothing more to read right now (a daemon it left may hold the pipes)
        if rc is not None and not busy:
            break
    duration = time.monotonic() - start
    kill_group(pid)
    if rc is None:
        rc = reap(pid, block=True)
    clean = clean_up()
    pump.drain()
    if status is None:
        status = "killed" if overflow or rc < 0 else ("ok" if rc == 0 else "failed")
    return {
        "status": status, "exit_code": rc, "duration_s": round(duration, 4),
        "stdout": pump.text(out_r), "stderr": pump.text(err_r),
        "truncated": bool(overflow), "clean": clean,
    }


def run_function(job, cap, judge_src, candidate_src):
    job_r, job_w = os.pipe()
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    ver_r, ver_w = os.pipe()
    src_r, src_w = os.pipe()
    if job.get("discard_output"):  # the candidate's output is never read: no cap to reach
        cout_r = cerr_r = None
        cout_w = cerr_w = os.open("/dev/null", os.O_WRONLY)
    else:
        cout_r, cout_w = os.pipe()
        cerr_r, cerr_w = os.pipe()
    jout_r, jout_w = os.pipe()
    start = time.monotonic()
    judge = spawn(JUDGE_UID, [PYTHON, "-I", "-S", "-c", judge_src],
                  {1: jout_w, 2: jout_w, 3: job_r, 4: req_w, 5: rep_r, 6: ver_w})
    cand = spawn(CANDIDATE_UID, [PYTHON, "-I", "-S", "-c", candidate_src, job["entry_point"]],
                 {1: cout_w, 2: cerr_w, 3: req_r, 4: rep_w, 5: src_r},
                 workdir="/tmp/run-" + os.urandom(8).hex())
    for fd in {job_r, req_w, rep_r, ver_w, req_r, rep_w, src_r, cout_w, cerr_w, jout_w}:
        os.close(fd)
    overflow = []
    pump = Pump(start + job["timeout"])

    def too_much():
        overflow.append(True)
        kill_group(cand)

    for fd in (cout_r, cerr_r):
        if fd is not None:
            pump.read(fd, cap, too_much)
    pump.read(jout_r, JUDGE_CAP, lambda: kill_group(judge))
    pump.read(ver_r, 1 << 20, lambda: kill_group(judge))
    request = {k: job[k] for k in ("test", "entry_point", "context", "call_timeout")}
    request["data"] = job.get("data")  # inputs for the tests, as data (sandbox_judge.py)
    pump.write(job_w, dumps(request))
    pump.write(src_w, job["solution"].encode("utf-8", "replace"))
    status = None
    verdict_buf = pump.bufs[ver_r]
    while ver_r in pump.reads:  # until the judge has closed its verdict pipe (or died)
        if pump.step(0.5) is None:
            status = "timeout"
            break
    duration = time.monotonic() - start
    cand_rc = reap(cand)
    kill_group(judge)
    kill_group(cand)
    reap(judge, block=True)
    if cand_rc is None:
        reap(cand, block=True)
    clean = clean_up()
    pump.drain()
    verdict = None
    if len(verdict_buf) >= 4:
        (size,) = struct.unpack(">I", verdict_buf[:4])
        try:
            verdict = loads(verdict_buf[4:4 + size])
        except WireError:
            verdict = None
    if status is None:
        if overflow:
            status = "killed"
        elif not isinstance(verdict, dict):
            status = "failed"
        elif verdict.get("error"):
            status = "error"
        else:
            status = "ok" if verdict.get("passed") is True else "failed"
    return {
        "status": status, "exit_code": cand_rc, "duration_s": round(duration, 4),
        "stdout": "" if cout_r is None else pump.text(cout_r),
        "stderr": "" if cerr_r is None else pump.text(cerr_r),
        "judge_output": pump.text(jout_r)[-4000:], "truncated": bool(overflow),
        "verdict": verdict if isinstance(verdict, dict) else None, "clean": clean,
    }


def main():
    request = read_request()
    os.close(0)
    if not clean_up():
        print(json.dumps({"status": "error", "clean": False, "duration_s": 0,
                          "detail": "the container was not clean before the run"}), flush=True)
        return
    for job in request["jobs"]:
        if job["kind"] == "function":
            result = run_function(job, request["cap"], request["judge"], request["candidate"])
        else:
            result = run_program(job, request["cap"])
        # one line per program, flushed at once: if a later program takes this supervisor
        # down, the results so far are not lost
        print(json.dumps(result), flush=True)
        if not result["clean"]:
            return  # the host discards this container and runs the rest elsewhere


if __name__ == "__main__":
    main()
