"""Start, stop and wait for an OpenAI-compatible vLLM server.

On these CPU machines it serves the tiny demo model from the separate vLLM environment
(.venv-vllm); on a GPU box the same call serves real weights with prefix caching on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from factory.config import PROJECT_ROOT, Settings

STATE_DIR = PROJECT_ROOT / ".cache" / "vllm"


class ModelServerError(RuntimeError):
    """The server could not be started or did not become healthy; the message says why."""


@dataclass(frozen=True)
class ServeOptions:
    model: str
    served_name: str
    port: int
    gpu: bool = False
    max_model_len: int = 4096
    gpu_memory_utilization: float = 0.9
    # a reward model (sequence classification, one label): the pooling runner, POST /classify
    reward: bool = False

    def command(self, python: Path) -> list[str]:
        cmd = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", self.model,
               "--served-model-name", self.served_name, "--host", "127.0.0.1",
               "--port", str(self.port), "--max-model-len", str(self.max_model_len),
               "--disable-uvicorn-access-log"]
        if self.reward:
            cmd += ["--runner", "pooling"]
        else:
            # Compact JSON: a model may not pad structured output with whitespace until
            # max_tokens (the tiny model did), and no GPU time goes to blanks.
            cmd += ["--structured-outputs-config",
                    '{"backend": "xgrammar", "disable_any_whitespace": true}']
        if self.gpu:
            # a reward server shares the GPU with the generator: each takes its fraction
            cache = [] if self.reward else ["--enable-prefix-caching"]
            return [*cmd, *cache, "--gpu-memory-utilization", str(self.gpu_memory_utilization)]
        # CPU: float32 kernels; unchunked prefill avoids the CPU sampler's "offset" crash.
        return [*cmd, "--dtype", "float32", "--max-num-batched-tokens", "32768"]


def _pidfile(port: int) -> Path:
    return STATE_DIR / f"{port}.pid"


def logfile(port: int) -> Path:
    return STATE_DIR / f"{port}.log"


def healthy(base_url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{base_url.rstrip('/')}/models", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def start(settings: Settings, opts: ServeOptions, wait_s: float = 300.0) -> int:
    """Start the server in the background and wait until it answers; returns its pid."""
    base = f"http://127.0.0.1:{opts.port}/v1"
    if healthy(base):
        raise ModelServerError(f"something already serves {base}; stop it first")
    if not settings.vllm_python.exists():
        raise ModelServerError(f"{settings.vllm_python} not found; run scripts/setup.sh first")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    with logfile(opts.port).open("wb") as log:
        proc = subprocess.Popen(opts.command(settings.vllm_python), stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    _pidfile(opts.port).write_text(str(proc.pid))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = logfile(opts.port).read_text(errors="replace")[-2000:]
            raise ModelServerError(f"vLLM exited with code {proc.returncode}:\n{tail}")
        if healthy(base):
            return proc.pid
        time.sleep(1.0)
    stop(opts.port)
    raise ModelServerError(f"vLLM did not become healthy in {wait_s:.0f}s; "
                           f"see {logfile(opts.port)}")


def stop(port: int, kill: bool = False) -> bool:
    """Stop the server started for ``port`` (SIGKILL with ``kill``); False if none was running."""
    pidfile = _pidfile(port)
    if not pidfile.exists():
        return False
    pid = int(pidfile.read_text())
    pidfile.unlink()
    try:
        os.killpg(pid, signal.SIGKILL if kill else signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(30):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(-pid, os.WNOHANG)  # reap it if this process started it
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.5)
    os.killpg(pid, signal.SIGKILL)
    return True
