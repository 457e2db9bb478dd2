"""End to end through the real vLLM server: the tiny model's calibration, a job, a crash."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import datasets
import pytest
from sqlalchemy import func, select

from db.models import Batch, Generation, Job, Prompt, SftExample
from db.session import sessionmaker_for
from factory import model_server
from factory.accuracy import measure
from factory.config import Settings
from factory.jobs import create_job
from factory.llm import LLMUnavailable
from factory.llm.openai_client import OpenAIClient
from factory.passages import Window
from factory.runner import InProcess
from factory.seeds import SeedKind, import_seeds, read_seeds
from factory.strategies import get_strategy
from tests.conftest import cli, env_for, free_port
from tests.guarantees import assert_job_accounted, assert_judge_replies_accounted
from tests.helpers import make_job
from tests.test_pipeline import run

FACTORY = str(Path(sys.executable).parent / "factory")
DATA = Path(__file__).parent.parent / "factory" / "data"


def test_tiny_model_is_calibrated_for_rejection_sampling(vllm_url: str) -> None:
    """Served as built: vLLM's accuracy on the build's held-out problems is the one the build
    measured (sampling noise aside), and wherever a seed lands (0.39-0.50 over seeds 0-2) the
    model gets many problems right and many wrong, which is what rejection sampling needs."""
    built = json.loads((Settings().model_dir / "build_info.json").read_text())
    acc = measure(OpenAIClient(vllm_url, "tiny-qwen2"), count=400, temperature=0.7)
    assert abs(acc["all"] - built["held_out_accuracy_t0.7_hf"]) <= 0.08, (acc, built)
    assert 0.25 <= acc["all"] <= 0.90, acc
    assert acc["1"] > 0.5 > acc["3"], acc        # small operands mostly right, large mostly wrong
    assert acc["1"] > acc["2"] > acc["3"], acc


def test_tokenizer_round_trip_matches_training(vllm_url: str) -> None:
    """The ids vLLM computes for a chat are those the build script trained on."""
    import httpx

    from factory.arithmetic import held_out
    from factory.prompts import render

    settings = Settings()
    p = held_out(1)[0]
    msgs = [{"role": "user", "content": render("math/solve_v1", problem=p.question)}]
    served = httpx.post(vllm_url.removesuffix("/v1") + "/tokenize",
                        json={"model": "tiny-qwen2", "messages": msgs,
                              "add_generation_prompt": True}).json()["tokens"]
    script = ("import sys, json; sys.path.insert(0, sys.argv[2]);"
              "from transformers import AutoTokenizer;"
              "t = AutoTokenizer.from_pretrained(sys.argv[1]);"
              "m = json.loads(sys.argv[3]);"
              "s = t.apply_chat_template(m, tokenize=False, add_generation_prompt=True);"
              "print(json.dumps(t(s, add_special_tokens=False)['input_ids']))")
    out = subprocess.run([str(settings.vllm_python), "-c", script, str(settings.model_dir),
                          str(Path(__file__).parent.parent), __import__("json").dumps(msgs)],
                         capture_output=True, text=True, check=True)
    assert served == __import__("json").loads(out.stdout.strip().splitlines()[-1])
    text = "12 + 7 = 19.\nThe answer is \\boxed{19}."
    ids = httpx.post(vllm_url.removesuffix("/v1") + "/tokenize",
                     json={"model": "tiny-qwen2", "prompt": text}).json()["tokens"]
    back = httpx.post(vllm_url.removesuffix("/v1") + "/detokenize",
                      json={"model": "tiny-qwen2", "tokens": ids}).json()["prompt"]
    assert back == text  # newlines and spaces survive


def test_main_job_runs_on_real_vllm_and_exports(vllm_url: str, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "FACTORY_LLM_BASE_URL": vllm_url,
           "FACTORY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    result = subprocess.run([FACTORY, "demo", "--out-dir", str(tmp_path / "export")],
                            env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "correct rate" in result.stdout and "DPO pairs" in result.stdout
    sft = datasets.load_dataset("json", data_files=str(tmp_path / "export/sft.jsonl"))["train"]
    dpo = datasets.load_dataset("json", data_files=str(tmp_path / "export/dpo.jsonl"))["train"]
    assert len(sft) > 50 and len(dpo) > 50
    assert "\\boxed{" in sft[0]["messages"][-1]["content"]
    assert sft[0]["metadata"]["model"] == "tiny-qwen2"


def test_server_killed_mid_run_gives_a_clear_error_and_no_half_rows(sessions,
                                                                    tmp_path: Path) -> None:
    settings = Settings()
    port = free_port()
    opts = model_server.ServeOptions(model=str(settings.model_dir), served_name="tiny-qwen2",
                                     port=port)
    try:
        model_server.start(settings, opts, wait_s=400)
    except model_server.ModelServerError as exc:
        pytest.fail(f"vLLM did not start: {exc}")
    job_id = make_job(sessions, tmp_path, count=200, batch_size=20, model="tiny-qwen2",
                      max_tokens=48)
    live = Settings(llm_base_url=f"http://127.0.0.1:{port}/v1", llm_max_retries=3,
                    llm_retry_base_s=0.2)

    def kill_once_work_is_stored() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with sessions() as s:
                if s.scalar(select(func.count()).select_from(Generation)):
                    break
            time.sleep(0.05)
        model_server.stop(port, kill=True)

    killer = threading.Thread(target=kill_once_work_is_stored)
    killer.start()
    try:
        with pytest.raises(LLMUnavailable, match="failed 4 attempts"):
            run(sessions, job_id, InProcess(sessions, live))
    finally:
        killer.join()
        model_server.stop(port, kill=True)
    with sessions() as s:
        job = s.get_one(Job, job_id)
        assert job.status == "failed" and "LLMUnavailable" in job.error
        batches = s.scalars(select(Batch).where(Batch.job_id == job_id)).all()
        assert any((b.stage, b.round) != ("generate", 0) for b in batches)  # work was kept
        assert any(b.stage == "generate" for b in batches)                  # and some was not
        for b in batches:
            # rows of a round exist only once the batch moved past generating that round
            gen_rounds = set(s.scalars(select(Generation.round).join(Prompt)
                                       .where(Prompt.batch_id == b.id)))
            limit = b.round if b.stage != "generate" else b.round - 1
            assert all(r <= limit for r in gen_rounds), (b.stage, b.round, gen_rounds)
        bad = s.scalar(select(func.count()).select_from(Generation).where(
            Generation.job_id == job_id,
            (Generation.completion_tokens.is_(None)) | (Generation.finish_reason.is_(None))))
        assert bad == 0


@dataclass(frozen=True)
class Run:
    kind: SeedKind
    source: str
    count: int
    params: dict[str, Any]
    gens_per_seed: int = 4  # at least this many samples per seed item
    window: Window | None = None  # text: short passages, so prompts stay small on CPU


SMALL_PASSAGES = Window(30, 80)
STRATEGY_RUNS = {
    "math": Run(SeedKind.math, "arithmetic.jsonl", 12, {
        "batch_size": 4, "max_samples": 8, "max_tokens": 48}),
    "code": Run(SeedKind.code, "HumanEval.jsonl.gz", 3, {
        "batch_size": 3, "max_samples": 4, "max_tokens": 96}),
    # 2 prompts x 2 principles x (follow, violate), critiqued by the model as JSON
    "constitutional": Run(SeedKind.prompts, "prompts.jsonl", 2, {
        "batch_size": 2, "only": ["honesty", "helpfulness"], "max_tokens": 48,
        "judge_max_tokens": 256}),
    # min_score 1: every verdict that parses passes, so the passage must reach the SFT table
    "repurpose": Run(SeedKind.text, "alice_in_wonderland.txt", 3, {
        "batch_size": 3, "candidates": 2, "max_tokens": 96, "min_score": 1,
        "judge_max_tokens": 256}, gens_per_seed=2, window=SMALL_PASSAGES),
    # 1-3 IFEval constraints worded into each prompt, the replies checked by verifiers.ifeval
    "ifeval": Run(SeedKind.prompts, "prompts.jsonl", 3, {
        "batch_size": 3, "max_samples": 4, "max_tokens": 48}),
    # several sampling settings per instruction, for people to rank in the annotation app
    "respond": Run(SeedKind.prompts, "prompts.jsonl", 3, {
        "batch_size": 3, "temperatures": [0.3, 1.2], "max_tokens": 48}, gens_per_seed=2),
    "roleplay": Run(SeedKind.profiles, "profiles.jsonl", 2, {
        "batch_size": 2, "turns": 1, "candidates": 2, "turn_chars": 80, "max_tokens": 320,
        "min_score": 1, "judge_max_tokens": 256}, gens_per_seed=2),
    "roleplay-from-text": Run(SeedKind.text, "alice_in_wonderland.txt", 2, {
        "batch_size": 2, "turns": 1, "candidates": 1, "turn_chars": 80, "max_tokens": 1200,
        "min_score": 1, "judge_max_tokens": 256}, gens_per_seed=1, window=SMALL_PASSAGES),
}


@pytest.mark.parametrize("strategy", sorted(STRATEGY_RUNS))
def test_every_strategy_runs_on_vllm_redis_and_postgres(
        strategy: str, vllm_url: str, pg_url: str, redis_url: str, workers,
        tmp_path: Path) -> None:
    run = STRATEGY_RUNS[strategy]
    kind, count, params = run.kind, run.count, run.params
    seeds = tmp_path / "seeds.jsonl"
    records = islice(read_seeds(DATA / run.source, kind, run.window), count)
    seeds.write_text("".join(json.dumps(s) + "\n" for _, s in records))
    pg = sessionmaker_for(pg_url)
    with pg.begin() as s:
        seed_set, _ = import_seeds(s, seeds, kind, window=run.window)
        job = create_job(s, strategy, seed_set, params, "tiny-qwen2")
        s.flush()
        job_id = job.id
    env = env_for(pg_url, redis_url, vllm_url)
    w = workers(env)
    w.start("generate")
    w.start("verify,sandbox")
    result = cli(env, "job", "run", str(job_id), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    acc = assert_job_accounted(pg, job_id)
    assert len(acc.generations) >= count * run.gens_per_seed
    assert {g.model for g in acc.generations} == {"tiny-qwen2"}
    if get_strategy(strategy).judge_needs_model:
        assert_judge_replies_accounted(acc)
        asked = [v for v in acc.verdicts.values() if "judge_model" in v.details]
        assert all(v.details["judge_model"] == "tiny-qwen2" for v in asked)
        if params.get("min_score") == 1:  # the threshold lets every parsed verdict through
            assert all(v.passed for v in asked if "error" not in v.details)
    if strategy == "repurpose":
        with pg() as s:
            sft = s.execute(select(SftExample.messages, Prompt.reference)
                            .join(Prompt).where(SftExample.job_id == job_id)).all()
        # every passage with a passing instruction is in SFT, its answer the passage unchanged
        passing = {g.prompt_id for g in acc.generations if acc.verdicts[g.id].passed}
        assert len(sft) == len(passing)
        assert all(m[-1]["content"] == ref["passage"] for m, ref in sft)
    if strategy == "ifeval":  # one strict and one loose verdict per constraint drawn
        with pg() as s:
            wanted = {p.id: len(p.reference["instruction_id_list"])
                      for p in s.scalars(select(Prompt).where(Prompt.job_id == job_id))}
        for g in acc.generations:
            details = acc.verdicts[g.id].details
            assert len(details["strict"]) == len(details["loose"]) == wanted[g.prompt_id]
            assert acc.verdicts[g.id].passed == all(details["strict"])
    if strategy == "respond":
        made = cli(env, "annotate", "create", "--job", str(job_id), "--k", "2")
        assert made.returncode == 0, made.stdout + made.stderr
        assert re.search(r"(\d+) tasks made", made.stdout)[1] == str(count - int(
            re.search(r"; (\d+) prompts", made.stdout)[1]))
    out = tmp_path / "sft.jsonl"
    result = cli(env, "export", "sft", "--job", str(job_id), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(json.loads(line)["messages"] for line in out.read_text().splitlines())
