"""Fixtures for real services: a fresh PostgreSQL database, a Redis database, the vLLM server.

A test that needs a service that is not there fails with the reason; nothing is skipped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from db.migrate import upgrade
from db.session import sessionmaker_for
from factory import model_server
from factory.config import Settings, get_settings

PG_ADMIN = os.environ.get("FACTORY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("FACTORY_TEST_REDIS", "redis://127.0.0.1:6379/7")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MODEL_CHOICE = frozenset({"FACTORY_MODEL_DIR", "FACTORY_REWARD_MODEL_DIR", "FACTORY_MODEL_SEED"})


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts from defaults in its own directory; settings are re-read. The
    machine's choice of tiny models (``MODEL_CHOICE``) stays, so a run on models trained from
    another seed tests those models everywhere, not only in the session's servers."""
    for key in list(os.environ):
        if (key.startswith("FACTORY_") and not key.startswith("FACTORY_TEST_")
                and key not in MODEL_CHOICE):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def use(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for key, value in values.items():
        monkeypatch.setenv(f"FACTORY_{key.upper()}", value)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'factory.db'}"
    upgrade(url)
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"factory_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN} is required: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    upgrade(url)
    yield url
    from db.session import engine_for

    engine_for(url).dispose()
    # a new connection: a test may have restarted the server since
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis at {REDIS} is required: {exc}")
    return REDIS


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test on the embedded store and on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def sessions(sqlite_url: str):
    return sessionmaker_for(sqlite_url)


@dataclass(frozen=True)
class Served:
    """A vLLM server of the session: its URL, and how to kill it and start it again (a test
    that needs a server killed mid-job uses this one rather than start one more: each start
    of vLLM on the CPU takes 30-40 s)."""

    url: str
    settings: Settings
    opts: model_server.ServeOptions

    def kill(self) -> None:
        model_server.stop(self.opts.port, kill=True)

    def start(self) -> None:
        try:
            model_server.start(self.settings, self.opts, wait_s=400)
        except model_server.ModelServerError as exc:
            pytest.fail(f"vLLM server did not start again: {exc}")


@pytest.fixture(scope="session")
def vllm_server() -> Iterator[Served]:
    """The real vLLM server on the tiny model, started once for the whole run."""
    settings = Settings()
    if not (settings.model_dir / "config.json").exists():
        pytest.fail(f"tiny model missing in {settings.model_dir}; run scripts/setup.sh")
    port = free_port()
    opts = model_server.ServeOptions(model=str(settings.model_dir),
                                     served_name=settings.llm_model, port=port)
    with _serving(settings, opts):
        yield Served(f"http://127.0.0.1:{port}/v1", settings, opts)


@pytest.fixture(scope="session")
def vllm_url(vllm_server: Served) -> str:
    return vllm_server.url


@contextlib.contextmanager
def _serving(settings: Settings, opts: model_server.ServeOptions) -> Iterator[None]:
    what = "vLLM reward server" if opts.reward else "vLLM server"
    try:
        model_server.start(settings, opts, wait_s=400)
    except model_server.ModelServerError as exc:
        pytest.fail(f"{what} did not start: {exc}")
    try:
        yield
    finally:
        model_server.stop(opts.port)


@pytest.fixture(scope="session")
def reward_model_dir() -> Path:
    """The tiny reward model the run serves, as the environment names it (read once, before
    each test's settings are reset to the defaults)."""
    return Settings().reward_model_dir


@pytest.fixture(scope="session")
def reward_url(reward_model_dir: Path) -> Iterator[str]:
    """The real vLLM reward server (pooling runner) on the tiny reward model, started once for
    the whole run; its root URL (POST /classify)."""
    settings = Settings()
    if not (reward_model_dir / "config.json").exists():
        pytest.fail(f"tiny reward model missing in {reward_model_dir}; "
                    "run scripts/setup.sh (or `factory model build`)")
    port = free_port()
    with _serving(settings, model_server.ServeOptions(
            model=str(reward_model_dir), served_name=settings.reward_model, port=port,
            reward=True)):
        yield f"http://127.0.0.1:{port}"


FACTORY = str(Path(sys.executable).parent / "factory")


def env_for(db_url: str, broker: str, llm: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTORY_")}
    # short leases and frequent sweeps, so a step lost to a fault is found in seconds
    return {**env, "FACTORY_DATABASE_URL": db_url, "FACTORY_BROKER_URL": broker,
            "FACTORY_LLM_BASE_URL": llm, "FACTORY_LEASE_S": "6", "FACTORY_SWEEP_INTERVAL_S": "2",
            "FACTORY_STALE_BATCH_S": "15"}


class Workers:
    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env, self.logdir, self.procs = env, logdir, []

    def start(self, queues: str = "generate,verify,sandbox", *,
              options: tuple[str, ...] = ("--concurrency", "1")) -> subprocess.Popen:
        """A worker; ``options`` () gives `factory worker`'s defaults."""
        log = (self.logdir / f"worker{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([FACTORY, "worker", "--queues", queues, *options,
                                 "--loglevel", "warning"],
                                env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def kill9(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[type[Workers]]:
    """Start real `factory worker` processes; all are stopped after the test."""
    made: list[Workers] = []

    def factory(env: dict[str, str]) -> Workers:
        w = Workers(env, tmp_path)
        made.append(w)
        return w

    yield factory  # type: ignore[misc]
    for w in made:
        w.stop_all()


def cli(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([FACTORY, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)




@pytest.fixture(scope="session", autouse=True)
def _no_sandbox_container_left_behind() -> Iterator[None]:
    """After the whole run, no sandbox container may remain (the tests' own or workers')."""
    yield
    import docker

    from factory.sandbox_service import close_sandbox_pool
    from verifiers.sandbox import LABEL

    close_sandbox_pool()
    client = docker.from_env()
    left = client.containers.list(all=True, filters={"label": LABEL})
    for c in left:
        c.remove(force=True)
    assert not left, f"{len(left)} sandbox containers were left behind"
