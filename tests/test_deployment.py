"""The deployment: compose.yaml validates with Debian's docker-compose and refuses to start
without its secrets; the Dockerfile installs with the script CI runs; and the services of
compose.yaml, started by hand with their own commands on this machine (PostgreSQL, Redis,
dockerd, vLLM on the CPU, a worker per queue, the app, Flower), run jobs end to end."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tomllib
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from factory.jobs import QUEUES
from tests.conftest import FACTORY, PG_ADMIN, cli, env_for, free_port
from tests.helpers import ROOT

SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "REDIS_PASSWORD": "redis-secret",
           "VLLM_API_KEY": "vllm-key", "FLOWER_PASSWORD": "flower-secret", "DOCKER_GID": "999"}
FACTORY_SERVICES = {"migrate", "worker-generate", "worker-verify", "worker-sandbox", "annotate",
                    "flower"}


def compose(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail("docker-compose is required (Debian's package; scripts/setup.sh installs it)")
    shutil.copy(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    lines = (ROOT / ".env.example").read_text().splitlines()
    filled = [f"{line}{env[line[:-1]]}" if line.endswith("=") and line[:-1] in env else line
              for line in lines]
    (tmp_path / ".env").write_text("\n".join(filled) + "\n")
    return subprocess.run([tool, "config"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def resolved(tmp_path: Path) -> dict:
    done = compose(tmp_path, SECRETS)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_compose_has_every_service_and_refuses_missing_secrets(resolved, tmp_path) -> None:
    services = resolved["services"]
    assert set(services) == {"postgres", "redis", "vllm", "vllm-reward"} | FACTORY_SERVICES
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert any("/var/lib/postgresql/data" in v for v in map(str, services["postgres"]["volumes"]))
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    vllm = services["vllm"]
    assert "--enable-prefix-caching" in vllm["command"]
    reward = services["vllm-reward"]
    assert reward["command"][reward["command"].index("--runner") + 1] == "pooling"

    def fraction(cmd: list[str]) -> float:
        return float(cmd[cmd.index("--gpu-memory-utilization") + 1])

    # the generator and the reward model share the GPU by memory fraction
    assert fraction(vllm["command"]) == 0.75 and fraction(reward["command"]) == 0.15
    assert reward["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert services["worker-generate"]["depends_on"]["vllm-reward"]["condition"] == \
        "service_healthy"
    assert services["worker-generate"]["environment"]["FACTORY_REWARD_BASE_URL"] == \
        "http://vllm-reward:8000"
    assert vllm["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert any("huggingface" in str(v) for v in vllm["volumes"])
    queues = set()
    for name in FACTORY_SERVICES - {"migrate", "flower"}:
        assert services[name]["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully"
        command = services[name]["command"]
        if command[0] == "worker":
            queues |= set(command[command.index("--queues") + 1].split(","))
    assert queues == set(QUEUES)
    assert services["migrate"]["command"] == ["db", "upgrade"]
    env = services["worker-generate"]["environment"]
    assert env["FACTORY_DATABASE_URL"].endswith(":pg-secret@postgres:5432/factory")
    assert "POSTGRES_PASSWORD" not in env and "FLOWER_PASSWORD" not in env  # no stray secrets
    assert "docker.sock" in str(services["worker-sandbox"]["volumes"])
    assert "docker.sock" not in str(services["worker-generate"].get("volumes", ""))
    annotate = services["annotate"]["environment"]
    assert annotate["FACTORY_DATABASE_URL"] == env["FACTORY_DATABASE_URL"]
    assert annotate["FACTORY_ANNOTATION_TRUSTED_PROXIES"] == ""  # trusts no proxy by default
    for name in ("annotate", "flower"):  # only on localhost unless the operator says so
        assert all(str(p).startswith("127.0.0.1:") or p.get("host_ip") == "127.0.0.1"
                   for p in services[name]["ports"])
    for secret in SECRETS:
        missing = compose(tmp_path, {k: v for k, v in SECRETS.items() if k != secret})
        assert missing.returncode != 0 and f"set {secret} in .env" in missing.stderr


def test_env_example_lists_every_variable_compose_reads() -> None:
    read = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "compose.yaml").read_text()))
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=",
                            (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert {"ANNOTATE_OIDC_COOKIE_SECRET", "FACTORY_IMAGE", "FACTORY_REWARD_BASE_URL"} <= read
    assert read - listed == set()


def test_the_image_installs_with_the_script_ci_runs() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    run = [line for line in docker.splitlines() if line.startswith("RUN ")]
    assert any("scripts/install_factory.sh /opt/venv" in line for line in run)
    assert "scripts/install_factory.sh .venv" in (ROOT / "scripts" / "setup.sh").read_text()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    copied = set(re.findall(r"(?m)^COPY (\w+) \1$", docker))
    assert copied == {p.rstrip("*") for p in packages}
    assert 'ENTRYPOINT ["factory"]' in docker and "\nUSER factory" in docker
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".cache", ".env"} <= set(ignored)


def _by_hand(command: list[str], port: int | None) -> list[str]:
    """A compose command for this machine: the same arguments, on a free port."""
    out = list(command)
    if port is not None and "--port" in out:
        out[out.index("--port") + 1] = str(port)
    return [f"--port={port}" if port is not None and c.startswith("--port=") else c
            for c in out]


def test_compose_services_started_by_hand_run_jobs_end_to_end(resolved, vllm_url, redis_url,
                                                              tmp_path) -> None:
    services = resolved["services"]
    name = f"factory_deploy_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    db_url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + \
        f"/{name}"
    env = env_for(db_url, redis_url, vllm_url)
    procs: list[subprocess.Popen] = []

    def start(service: str, port: int | None = None) -> subprocess.Popen:
        spec = services[service]
        argv = (_by_hand(spec["entrypoint"], port) if spec.get("entrypoint")
                else [FACTORY, *_by_hand(spec["command"], port)])
        argv[0] = str(Path(FACTORY).parent / argv[0]) if argv[0] == "celery" else argv[0]
        log = (tmp_path / f"{service}.log").open("wb")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        procs.append(proc)
        return proc

    try:
        migrate = subprocess.run([FACTORY, *services["migrate"]["command"]], env=env,
                                 capture_output=True, text=True, timeout=120)
        assert migrate.returncode == 0 and "schema at" in migrate.stdout, migrate.stderr
        workers = [start(s) for s in ("worker-generate", "worker-verify", "worker-sandbox")]
        app_port, flower_port = free_port(), free_port()
        start("annotate", app_port)
        start("flower", flower_port)
        seeds = {"math": ("arithmetic.jsonl", "math", 8), "code": ("HumanEval.jsonl.gz",
                                                                  "code", 2)}
        for strategy, (source, kind, count) in seeds.items():
            path = tmp_path / f"{strategy}.jsonl"
            lines = _first_lines(ROOT / "factory" / "data" / source, count)
            path.write_text("".join(lines))
            imported = cli(env, "seeds", "import", str(path), "--kind", kind)
            assert imported.returncode == 0, imported.stderr
            seed_set = re.search(r"seed set (\d+)", imported.stdout)[1]
            made = cli(env, "job", "create", "--strategy", strategy, "--seeds", seed_set,
                       "--param", "max_tokens=64", "--param", "max_samples=4")
            job = re.search(r"job (\d+)", made.stdout)[1]
            ran = cli(env, "job", "run", job, timeout=600)
            assert ran.returncode == 0 and "done" in ran.stdout, ran.stdout + ran.stderr
        status = cli(env, "status", "--window", "3600")
        assert "3 alive" in status.stdout, status.stdout
        for queue in QUEUES:
            assert re.search(rf"{queue}\s", status.stdout)
        assert httpx.get(f"http://127.0.0.1:{app_port}/_stcore/health", timeout=5).text == "ok"
        flower = f"http://127.0.0.1:{flower_port}/api/workers?refresh=1"
        assert httpx.get(flower, timeout=10).status_code == 401  # Flower asks for a password
        seen = httpx.get(flower, timeout=20, auth=("admin", SECRETS["FLOWER_PASSWORD"]))
        assert seen.status_code == 200 and len(seen.json()) == 3
        for w in workers:  # warm shutdown, as `docker compose stop` sends it
            os.kill(w.pid, signal.SIGTERM)
        assert [w.wait(120) for w in workers] == [0, 0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        from db.session import engine_for

        engine_for(db_url).dispose()
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


def _first_lines(path: Path, count: int) -> list[str]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return [next(f) for _ in range(count)]
