"""The code sandbox on the real Docker engine: results, limits, hostile programs, cleanup."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from factory.config import Settings
from verifiers import sandbox
from verifiers.sandbox import LABEL, SandboxBusy, SandboxError, SandboxLimits, SandboxPool

FACTORY = str(Path(sys.executable).parent / "factory")


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    try:
        p = SandboxPool(Settings().sandbox_image, size=2, limits=SandboxLimits(memory_mb=128))
    except SandboxError as exc:
        pytest.fail(str(exc))
    yield p
    p.close()
    left = docker.from_env().containers.list(all=True, filters={"label": f"{LABEL}={p.pool_id}"})
    assert left == [], "the pool must leave no container behind"


def test_ok_failed_and_stdin(pool: SandboxPool) -> None:
    r = pool.run("import sys\nprint(sys.stdin.read().upper())", stdin="hello")
    assert (r.status, r.exit_code, r.stdout) == ("ok", 0, "HELLO\n")
    r = pool.run("raise ValueError('boom')")
    assert r.status == "failed" and r.exit_code == 1 and "ValueError: boom" in r.stderr


def test_no_free_container_is_busy_not_a_verdict_and_the_pool_goes_on(pool: SandboxPool,
                                                                       monkeypatch) -> None:
    """Every container held by long runs: the run waits, then raises SandboxBusy (a worker
    retries the step later) instead of an error the job would fail on."""
    monkeypatch.setattr(sandbox, "IDLE_WAIT_S", 0.2)
    held = [pool._idle.get_nowait() for _ in range(pool._idle.qsize())]
    try:
        with pytest.raises(SandboxBusy, match="no sandbox container came free"):
            pool.run("print(1)")
    finally:
        for container in held:
            pool._idle.put(container)
    assert pool.run("print(1)").stdout == "1\n"


HOSTILE = {
    "fork_bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
                  "        pass", {"timeout", "killed", "failed"}),
    "memory_bomb": ("x = []\nwhile True:\n    x.append(bytearray(10**7))", {"killed", "failed"}),
    "infinite_loop": ("while True:\n    pass", {"timeout"}),
    "endless_output": ("while True:\n    print('y' * 1000)", {"killed"}),
    "network": ("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)",
                {"failed"}),
    "write_outside_tmpfs": ("open('/etc/evil', 'w').write('x')", {"failed"}),
    "fill_tmpfs": ("f = open('/tmp/big', 'wb')\nwhile True:\n    f.write(b'0' * 10**6)",
                   {"failed"}),
    "kill_parent": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
                    {"killed", "failed"}),
    "sleep_past_timeout": ("import time\ntime.sleep(60)", {"timeout"}),
    "daemon_left_behind": ("import os, time\nif os.fork() == 0:\n    os.setsid()\n"
                           "    open('/tmp/marker', 'w').write('x')\n    time.sleep(600)",
                           {"ok"}),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_program_is_contained_and_pool_keeps_working(pool: SandboxPool,
                                                              case: str) -> None:
    code, expected = HOSTILE[case]
    r = pool.run(code, timeout_s=3)
    assert r.status in expected, r
    assert len(r.stdout) <= pool.limits.output_bytes
    # the next runs see a clean, working sandbox (both pool containers)
    for _ in range(2):
        after = pool.run("import os\nprint(sorted(os.listdir('/tmp')), len([p for p in "
                         "os.listdir('/proc') if p.isdigit()]))")
        assert after.status == "ok", after
        listing, procs = after.stdout.rsplit(" ", 1)
        assert listing.startswith("[") and "marker" not in listing and "big" not in listing
        assert int(procs) <= 4, after.stdout  # sleep (pid 1), supervisor, program, shell


def test_host_environment_and_files_are_invisible(pool: SandboxPool, monkeypatch) -> None:
    monkeypatch.setenv("FACTORY_SECRET_TEST", "hunter2")
    r = pool.run("import os\nprint(dict(os.environ))\nprint(os.getuid())\n"
                 "print(os.path.exists('/work'), os.path.exists('/root/.bashrc'))")
    assert r.status == "ok" and "hunter2" not in r.stdout
    env_line, uid, exists = r.stdout.splitlines()
    assert uid == "65534" and exists == "False False"


def test_cli_runs_one_program(tmp_path: Path) -> None:
    prog = tmp_path / "p.py"
    prog.write_text("print(int(input()) * 2)")
    data = tmp_path / "in.txt"
    data.write_text("21\n")
    out = subprocess.run([FACTORY, "sandbox", "run", str(prog), "--stdin", str(data),
                          "--timeout", "5"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "ok" and result["stdout"] == "42\n"
    assert {"exit_code", "stderr", "duration_s"} <= set(result)


def test_no_program_or_secret_on_a_command_line_and_no_writable_import_path(
        pool: SandboxPool) -> None:
    """The request reaches the supervisor on stdin; every interpreter runs isolated."""
    r = pool.run("import os, sys\nMARK = 'PROGRAM-' + 'MARKER'\nlines = []\n"
                 "for p in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
                 "    try:\n"
                 "        lines.append(open(f'/proc/{p}/cmdline', 'rb').read().decode())\n"
                 "    except OSError:\n"
                 "        pass\n"
                 "print(any('PROGRAM-MARKER' in c for c in lines), len(lines) >= 3)\n"
                 "print(not any(os.access(d, os.W_OK) for d in sys.path if os.path.exists(d)))\n"
                 "print(os.access('/usr/lib/python3.11', os.W_OK), sys.flags.isolated)")
    assert r.status == "ok" and r.stdout.split() == ["False", "True", "True", "False", "1"], r
