"""`factory status` from the store: throughput, acceptance and errors per strategy."""

from sqlalchemy import func, select

from db.models import Generation, Job, Verdict
from factory import ops
from tests.conftest import cli, env_for
from tests.helpers import make_job, run_in_process


def test_throughput_acceptance_and_errors_per_strategy(sessions, sqlite_url, tmp_path) -> None:
    from factory.llm.scripted import ScriptedLLM

    job_id = make_job(sessions, tmp_path, count=12, batch_size=4)
    run_in_process(sessions, job_id, ScriptedLLM.named("arithmetic"))
    broken = make_job(sessions, tmp_path, count=13, batch_size=4)
    with sessions.begin() as s:
        s.get_one(Job, broken).status, s.get_one(Job, broken).error = "failed", "LLMUnavailable: x"
    with sessions() as s:
        samples = s.scalar(select(func.count()).select_from(Generation))
        passed = s.scalar(select(func.count()).select_from(Verdict).where(Verdict.passed))
        [math] = ops.strategies(s, window_s=3600)
        recent = ops.throughput(s, 3600)
    assert math.jobs == {"done": 1, "failed": 1} and math.samples == samples
    assert math.acceptance == passed / samples and 0 < math.acceptance < 1
    assert math.recent.samples == recent.samples == samples
    assert recent.tokens_per_s > 0 and math.last_error == "LLMUnavailable: x"
    env = {**env_for(sqlite_url, "", "scripted://arithmetic")}
    env.pop("FACTORY_BROKER_URL")
    shown = cli(env, "status", "--window", "3600")
    assert shown.returncode == 0, shown.stderr
    assert "no broker" in shown.stdout and "math" in shown.stdout
    assert f"{passed / samples:.1%}" in shown.stdout
