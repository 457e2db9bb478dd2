"""Settings, `factory config`, `factory db upgrade`, bundled data."""

import json
from pathlib import Path

from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from db.migrate import alembic_config
from factory.arithmetic import held_out
from factory.cli.main import app
from factory.config import Settings
from tests.conftest import use

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_the_embedded_setup() -> None:
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["database_url"] == "sqlite:///factory.db"
    assert shown["broker_url"] is None
    assert shown["llm_concurrency"] == 256


def test_config_masks_secrets(monkeypatch) -> None:
    use(monkeypatch, llm_api_key="sk-very-secret",
        database_url="postgresql+psycopg://bob:hunter2@db:5432/f",
        broker_url="redis://:pw123@redis:6379/0")
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 0
    for secret in ("sk-very-secret", "hunter2", "pw123"):
        assert secret not in result.output
    shown = json.loads(result.output)
    assert shown["database_url"] == "postgresql+psycopg://bob:********@db:5432/f"
    assert shown["llm_api_key"] == "********"


def test_db_upgrade_on_a_fresh_file(monkeypatch, tmp_path: Path) -> None:
    use(monkeypatch, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(app, ["db", "upgrade"])
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert result.exit_code == 0 and f"schema at {head}" in result.output
    assert (tmp_path / "x.db").exists()


def test_bundled_arithmetic_seeds_are_the_held_out_problems() -> None:
    lines = (ROOT / "factory/data/arithmetic.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [
        {"problem": p.question, "answer": str(p.answer)} for p in held_out(200)]
    digits = {p.digits for p in held_out(200)}
    assert digits == {1, 2, 3}


def test_job_resume_is_an_alias_of_job_run() -> None:
    from factory.cli import job_cmd

    commands = {c.name: c.callback for c in job_cmd.app.registered_commands}
    assert commands["resume"] is commands["run"] is job_cmd.run
    shown = CliRunner().invoke(app, ["job", "resume", "--help"]).output
    assert "Alias of `factory job run`" in shown


def test_worker_pool_defaults_follow_the_queues() -> None:
    """Generate steps wait on the model server: threads, many at once; checks use the CPU:
    a process per core. Whatever is given explicitly wins."""
    import os

    from factory.cli.worker_cmd import pool_for

    assert pool_for(["generate"], "auto", None, 8) == ("threads", 8)
    assert pool_for(["generate", "verify", "sandbox"], "auto", None, 12) == ("threads", 12)
    assert pool_for(["verify", "sandbox"], "auto", None, 8) == ("prefork", os.cpu_count())
    assert pool_for(["generate"], "prefork", 1, 8) == ("prefork", 1)
    assert pool_for(["verify"], "auto", 3, 8) == ("prefork", 3)


def test_model_build_passes_the_seed_to_both_builds(monkeypatch, tmp_path: Path) -> None:
    """FACTORY_MODEL_SEED reaches the generator's build and the reward model's (which picks
    its calibration pairs by it), the reward model's after the generator's, from its dir."""
    import subprocess

    from factory.cli import model_cmd

    python = tmp_path / "python"
    python.touch()
    use(monkeypatch, vllm_python=str(python), model_seed="3")
    ran: list[list[str]] = []
    monkeypatch.setattr(model_cmd.subprocess, "run",
                        lambda cmd: ran.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    result = CliRunner().invoke(app, ["model", "build"])
    assert result.exit_code == 0, result.output
    generator, reward = ran
    assert generator[1].endswith("build_tiny_model.py")
    assert generator[generator.index("--seed") + 1] == "3"
    assert reward[1].endswith("build_tiny_reward_model.py")
    assert reward[2] == generator[2] == str(Settings().model_dir)
    assert reward[reward.index("--seed") + 1] == "3"
