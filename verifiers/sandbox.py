"""A Docker sandbox for untrusted programs, with a warm pool of locked-down containers.

Every container: no network, read-only root, a size-capped tmpfs on /tmp as the only writable
place, memory / pids / CPU limits, no-new-privileges, every capability dropped but the five the
supervisor needs to start its children as other users and clean up after them (the programs
themselves run as unprivileged users with none). A run is a ``docker exec`` of the supervisor
(sandbox_supervisor.py, ``python3 -I -S``, working directory ``/``) into a warm container; the
request goes in on the exec's stdin, never on a command line. The supervisor enforces the
timeout and output cap and leaves the container clean; a container that misbehaves (its
supervisor killed, a host-side deadline passed, a clean-up that did not leave it empty) is
replaced.

Two kinds of run: a program (stdin in, output out, for the caller to compare outside the
sandbox) and a function check (``judge_many``: the tests in a judge process, the solution in
another process as another user, calls crossing as data; see code_harness.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import struct
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Literal

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.utils.socket import frames_iter
from pydantic import BaseModel

NAME = "docker-sandbox"
# 2: the tests run in a judge process apart from the solution's (another user), calls cross
# as plain data, the verdict comes on the judge's own pipe
VERSION = "2"
LABEL = "factory-sandbox"
_HERE = Path(__file__).parent
_WIRE = (_HERE / "sandbox_wire.py").read_text()
SUPERVISOR = _WIRE + "\n" + (_HERE / "sandbox_supervisor.py").read_text()
JUDGE = _WIRE + "\n" + (_HERE / "sandbox_judge.py").read_text()
CANDIDATE = _WIRE + "\n" + (_HERE / "sandbox_candidate.py").read_text()
Status = Literal["ok", "failed", "timeout", "killed", "error"]
# PID 1 of every container: reaps orphans (a fork bomb's zombies would otherwise hold the pids
# limit); signals from inside the container cannot kill it.
REAPER = ("import os, time\nwhile True:\n    try:\n        os.waitpid(-1, 0)\n"
          "    except ChildProcessError:\n        time.sleep(0.05)")


IDLE_WAIT_S = 120.0  # how long a run waits for a free container


class SandboxError(RuntimeError):
    """The sandbox itself is unusable (no Docker engine, no image)."""


class SandboxBusy(SandboxError):
    """No container came free in time (all held by long runs): says nothing of the code, so
    the step is tried again later rather than failing its job."""


class RunResult(BaseModel):
    status: Status
    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
    truncated: bool = False
    detail: str | None = None
    # function checks: the judge's verdict {passed, checks, calls, reason, error} (None if the
    # judge gave none) and the tests' own output
    verdict: dict[str, Any] | None = None
    judge_output: str = ""


class SandboxLimits(BaseModel):
    memory_mb: int = 256
    pids: int = 64
    cpus: float = 1.0
    tmpfs_mb: int = 16
    output_bytes: int = 64_000

    def container_kwargs(self, supervised: bool = True) -> dict[str, Any]:
        """A supervised container runs as root with only the capabilities the supervisor
        needs; everything it starts runs as 65533 / 65534 with none. Unsupervised (one program
        per `docker run`): user 65534, no capabilities."""
        who: dict[str, Any] = {"user": "65534:65534", "cap_drop": ["ALL"]}
        if supervised:
            who = {"user": "0:0", "cap_drop": ["ALL"],
                   "cap_add": ["SETUID", "SETGID", "KILL", "DAC_OVERRIDE", "FOWNER"]}
        return {
            "network_mode": "none", "read_only": True, **who,
            "tmpfs": {"/tmp": f"size={self.tmpfs_mb}m,mode=1777,nosuid,nodev"},
            "mem_limit": f"{self.memory_mb}m", "memswap_limit": f"{self.memory_mb}m",
            "pids_limit": self.pids, "nano_cpus": int(self.cpus * 1e9),
            "security_opt": ["no-new-privileges"],
            "environment": {}, "working_dir": "/", "ipc_mode": "none",
        }


def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except DockerException as exc:
        raise SandboxError(f"no Docker engine reachable ({exc}); start dockerd "
                           "(scripts/setup.sh does)") from exc
    return client


class SandboxPool:
    """Warm containers, reused run after run; safe to share between threads."""

    def __init__(self, image: str, size: int = 2, limits: SandboxLimits | None = None) -> None:
        self.client = docker_client()
        try:
            self.client.images.get(image)
        except NotFound as exc:
            raise SandboxError(f"sandbox image {image} missing; run "
                               "scripts/build_sandbox_image.sh") from exc
        self.image, self.size = image, size
        self.limits = limits or SandboxLimits()
        self.pool_id = uuid.uuid4().hex[:12]
        self._idle: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self._all: set[str] = set()
        self._waiter = ThreadPoolExecutor(max_workers=max(4, size * 2))
        self._closed = False
        self._reap_orphans()
        for _ in range(size):
            self._idle.put(self._start())

    def _reap_orphans(self) -> None:
        """Remove containers left by pools of processes on this host that died unclosed."""
        host = socket.gethostname()
        for c in self.client.containers.list(all=True, filters={"label": f"{LABEL}.host={host}"}):
            pid = int(c.labels.get(f"{LABEL}.pid", "0"))
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                with contextlib.suppress(NotFound, APIError):
                    c.remove(force=True)
            except PermissionError:
                pass

    def _start(self) -> Any:
        labels = {LABEL: self.pool_id, f"{LABEL}.pid": str(os.getpid()),
                  f"{LABEL}.host": socket.gethostname()}
        container = self.client.containers.run(
            self.image, ["python3", "-I", "-S", "-c", REAPER], detach=True, init=False,
            labels=labels, **self.limits.container_kwargs())
        with self._lock:
            self._all.add(container.id)
        return container

    def _discard(self, container: Any) -> None:
        with self._lock:
            self._all.discard(container.id)
        with contextlib.suppress(NotFound, APIError):
            container.remove(force=True)

    def _replace(self, container: Any) -> None:
        self._discard(container)
        if not self._closed:
            self._idle.put(self._start())

    def run(self, code: str, stdin: str = "", timeout_s: float = 10.0) -> RunResult:
        return self.run_many([(code, stdin)], timeout_s)[0]

    def run_many(self, programs: list[tuple[str, str]], timeout_s: float = 10.0
                 ) -> list[RunResult]:
        """Run (code, stdin) programs one after another in one warm container, one exec."""
        return self._run_jobs([{"kind": "program", "code": c, "stdin": i, "timeout": timeout_s}
                               for c, i in programs], timeout_s)

    def judge_many(self, checks: list[dict[str, Any]], timeout_s: float = 10.0
                   ) -> list[RunResult]:
        """Function checks (code_harness.function_job dicts) in one warm container, one exec;
        each result carries the judge's verdict."""
        return self._run_jobs([{**c, "kind": "function", "timeout": timeout_s} for c in checks],
                              timeout_s)

    def _run_jobs(self, jobs: list[dict[str, Any]], timeout_s: float, replaced: int = 0
                  ) -> list[RunResult]:
        """If a job takes the supervisor down with it, or leaves the container unclean, the
        results before it are kept, it is reported, the container is replaced and the jobs after
        it run again in a healthy one."""
        if not jobs:
            return []
        if replaced > len(jobs) + 3:  # fresh containers that fail too: the sandbox is broken
            return [self._failed("error", time.monotonic(), "sandbox containers keep failing")
                    ] * len(jobs)
        payload = json.dumps({"jobs": jobs, "cap": self.limits.output_bytes,
                              "judge": JUDGE, "candidate": CANDIDATE}).encode()
        try:
            container = self._idle.get(timeout=IDLE_WAIT_S)
        except queue.Empty:
            raise SandboxBusy(f"no sandbox container came free in {IDLE_WAIT_S:.0f} s") from None
        start = time.monotonic()
        try:
            exec_id = self.client.api.exec_create(
                container.id, ["python3", "-I", "-S", "-c", SUPERVISOR], user="0:0",
                workdir="/", environment={}, stdin=True)["Id"]
            future = self._waiter.submit(self._exec, exec_id, payload)
            stdout, stderr = future.result(timeout=(timeout_s + 2) * len(jobs) + 15)
        except FutureTimeout:
            self._replace(container)
            return [self._failed("timeout", start, "host deadline passed; container replaced")
                    ] * len(jobs)
        except (APIError, NotFound, OSError) as exc:
            self._replace(container)
            return [self._failed("error", start, f"container failed and was replaced: {exc}")
                    ] * len(jobs)
        results, clean = [], True
        for line in stdout.decode("utf-8", "replace").splitlines():
            try:
                raw = json.loads(line)
                result = RunResult.model_validate(raw)
            except ValueError:
                break
            clean = raw.get("clean") is True
            if not clean and raw.get("detail"):  # the container was dirty before the run
                break
            results.append(result)
            if not clean:
                break
        if clean and len(results) == len(jobs):
            self._idle.put(container)
            return results
        self._replace(container)
        if clean:  # the supervisor died during the next job
            results.append(self._failed(
                "killed", start, "the run's supervisor was killed (memory limit, or the "
                "program took it down); container replaced",
                stderr[-2000:].decode("utf-8", "replace")))
        return results + self._run_jobs(jobs[len(results):], timeout_s, replaced + 1)

    def _exec(self, exec_id: str, payload: bytes) -> tuple[bytes, bytes]:
        """Start the exec, send the request on its stdin, collect its stdout and stderr."""
        sock = self.client.api.exec_start(exec_id, socket=True)
        raw = getattr(sock, "_sock", sock)
        out, err = bytearray(), bytearray()
        try:
            raw.sendall(struct.pack(">Q", len(payload)) + payload)
            for stream, data in frames_iter(sock, tty=False):
                (out if stream == 1 else err).extend(data)
        finally:
            sock.close()
        return bytes(out), bytes(err)

    @staticmethod
    def _failed(status: Status, start: float, detail: str, stderr: str = "") -> RunResult:
        return RunResult(status=status, exit_code=None, stdout="", stderr=stderr,
                         duration_s=time.monotonic() - start, detail=detail)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            ids = list(self._all)
        for cid in ids:
            with contextlib.suppress(NotFound, APIError):
                self.client.containers.get(cid).remove(force=True)
        self._waiter.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_fresh(client: docker.DockerClient, image: str, code: str,
              limits: SandboxLimits | None = None) -> RunResult:
    """One program in a new container (`docker run`): the baseline the warm pool beats."""
    limits = limits or SandboxLimits()
    start = time.monotonic()
    out = client.containers.run(image, ["python3", "-I", "-c", code], remove=True,
                                labels={LABEL: "fresh"},
                                **limits.container_kwargs(supervised=False))
    return RunResult(status="ok", exit_code=0, stdout=out.decode(), stderr="",
                     duration_s=time.monotonic() - start)
