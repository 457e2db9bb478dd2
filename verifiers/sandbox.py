"""A Docker sandbox for untrusted programs, with a warm pool of locked-down containers.

Every container: no network, read-only root, a size-capped tmpfs on /tmp as the only writable
place, memory / pids / CPU limits, an unprivileged user, all capabilities dropped,
no-new-privileges. A run is a ``docker exec`` of the supervisor (sandbox_supervisor.py) into a
warm container, which enforces the timeout and output cap and leaves the container clean; a
container that misbehaves (its supervisor killed, a host-side deadline passed) is replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Literal

import docker
from docker.errors import APIError, DockerException, NotFound
from pydantic import BaseModel

NAME = "docker-sandbox"
VERSION = "1"
LABEL = "factory-sandbox"
SUPERVISOR = (Path(__file__).parent / "sandbox_supervisor.py").read_text()
Status = Literal["ok", "failed", "timeout", "killed", "error"]
# PID 1 of every container: reaps orphans (a fork bomb's zombies would otherwise hold the pids
# limit); signals from inside the container cannot kill it.
REAPER = ("import os, time\nwhile True:\n    try:\n        os.waitpid(-1, 0)\n"
          "    except ChildProcessError:\n        time.sleep(0.05)")


class SandboxError(RuntimeError):
    """The sandbox itself is unusable (no Docker engine, no image)."""


class RunResult(BaseModel):
    status: Status
    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
    truncated: bool = False
    detail: str | None = None


class SandboxLimits(BaseModel):
    memory_mb: int = 256
    pids: int = 64
    cpus: float = 1.0
    tmpfs_mb: int = 16
    output_bytes: int = 64_000

    def container_kwargs(self) -> dict[str, Any]:
        return {
            "network_mode": "none", "read_only": True, "user": "65534:65534",
            "tmpfs": {"/tmp": f"size={self.tmpfs_mb}m,mode=1777,nosuid,nodev"},
            "mem_limit": f"{self.memory_mb}m", "memswap_limit": f"{self.memory_mb}m",
            "pids_limit": self.pids, "nano_cpus": int(self.cpus * 1e9),
            "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
            "environment": {}, "working_dir": "/tmp", "ipc_mode": "none",
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
            self.image, ["python3", "-c", REAPER], detach=True, init=False,
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
        """Run (code, stdin) programs one after another in one warm container, one exec.

        If a program takes the supervisor down with it, the results before it are kept, it is
        reported, and the programs after it run again in a healthy container.
        """
        if not programs:
            return []
        payload = json.dumps({"jobs": [{"code": c, "stdin": i, "timeout": timeout_s}
                                       for c, i in programs],
                              "cap": self.limits.output_bytes}).encode().hex()
        container = self._idle.get(timeout=120)
        start = time.monotonic()
        try:
            exec_id = self.client.api.exec_create(
                container.id, ["python3", "-S", "-c", SUPERVISOR, payload], user="65534:65534",
                workdir="/tmp", environment={})["Id"]
            future = self._waiter.submit(self.client.api.exec_start, exec_id, demux=True)
            stdout, stderr = future.result(timeout=(timeout_s + 2) * len(programs) + 15)
        except FutureTimeout:
            self._replace(container)
            return [self._failed("timeout", start, "host deadline passed; container replaced")
                    ] * len(programs)
        except (APIError, NotFound) as exc:
            self._replace(container)
            return [self._failed("error", start, f"container failed and was replaced: {exc}")
                    ] * len(programs)
        results = []
        for line in (stdout or b"").decode("utf-8", "replace").splitlines():
            try:
                results.append(RunResult.model_validate_json(line))
            except ValueError:
                break
        if len(results) == len(programs):
            self._idle.put(container)
            return results
        self._replace(container)
        results.append(self._failed(
            "killed", start, "the run's supervisor was killed (memory limit, or the program "
            "killed its parent); container replaced",
            (stderr or b"")[-2000:].decode("utf-8", "replace")))
        return results + self.run_many(programs[len(results):], timeout_s)

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
                                labels={LABEL: "fresh"}, **limits.container_kwargs())
    return RunResult(status="ok", exit_code=0, stdout=out.decode(), stderr="",
                     duration_s=time.monotonic() - start)
