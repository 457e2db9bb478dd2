"""The tiny model's vLLM server for benchmarks, on a core of its own.

On a CPU-only box the server and the clients compete for the same cores, and that noise (2-3x
run to run) hides a 5% difference. Pinned, the server owns the last core and the clients the
others - as on a GPU box, where the server does not use the clients' CPU.
"""

from __future__ import annotations

import os

from factory import model_server
from factory.config import Settings

MODEL = "tiny-qwen2"


def start_pinned(port: int, pin: bool = True) -> str:
    """Start the server (pinned to the last core if asked and there are two or more), leave
    this process on the other cores, and return the server's base URL."""
    cores = sorted(os.sched_getaffinity(0))
    pin = pin and len(cores) >= 2
    if pin:
        os.sched_setaffinity(0, {cores[-1]})  # the server inherits this
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = str(cores[-1])
    settings = Settings()
    model_server.start(settings, model_server.ServeOptions(
        model=str(settings.model_dir), served_name=MODEL, port=port))
    if pin:
        os.sched_setaffinity(0, set(cores[:-1]))
        print(f"clients on cores {cores[:-1]}, server on core {cores[-1]}")
    return f"http://127.0.0.1:{port}/v1"


def stop(port: int) -> None:
    model_server.stop(port)
