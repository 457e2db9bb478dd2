"""One warm sandbox pool per process, built from the settings and closed at exit."""

from __future__ import annotations

import atexit
import threading

from factory.config import get_settings
from verifiers.sandbox import SandboxLimits, SandboxPool

_pool: SandboxPool | None = None
_lock = threading.Lock()


def sandbox_pool() -> SandboxPool:
    global _pool
    with _lock:
        if _pool is None:
            s = get_settings()
            _pool = SandboxPool(s.sandbox_image, s.sandbox_pool_size,
                                SandboxLimits(memory_mb=s.sandbox_memory_mb))
            atexit.register(_pool.close)
        return _pool


def close_sandbox_pool() -> None:
    """Remove this process's containers now (worker shutdown; atexit covers the rest)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.close()
            _pool = None
