"""The reward strategy and the reward client, with scripted stand-ins: n responses a prompt,
scored in batches, best against worst past a margin, scores on every verdict; a reward server
that is down or answers garbage fails the step with the reason and nothing is paired."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from db.models import Generation, Job, PreferencePair, Prompt, SftExample, Verdict
from factory.jobs import JobError
from factory.llm import LLMResponseError, LLMUnavailable
from factory.llm.reward_client import RewardClient, ScriptedReward, connect_reward
from factory.llm.scripted import ScriptedLLM
from factory.seeds import SeedKind
from tests.conftest import free_port, use
from tests.helpers import ROOT, run_in_process, seed_job

# bundled arithmetic problems as a prompt seed set (any prompt set works; these have a truth)
QUESTIONS = [json.loads(line)["problem"] for line in
             (ROOT / "factory/data/arithmetic.jsonl").read_text().splitlines()[:12]]
MATH = {"template": "math/solve_v1", "temperatures": [0.7, 1.0], "per_setting": 2}


def job(sessions, tmp_path: Path, questions: list[str] = QUESTIONS, **params) -> int:
    return seed_job(sessions, tmp_path / "prompts.jsonl", "reward", SeedKind.prompts,
                    [{"prompt": q} for q in questions], **{**MATH, "batch_size": 5, **params})


def test_scores_every_sample_pairs_best_against_worst_and_keeps_good_best(
        sessions, tmp_path: Path, monkeypatch) -> None:
    use(monkeypatch, reward_base_url="scripted://arithmetic")
    job_id = job(sessions, tmp_path)
    run_in_process(sessions, job_id, ScriptedLLM.named("arithmetic"))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        gens = s.scalars(select(Generation)).all()
        assert len(gens) == 4 * len(QUESTIONS) and {g.ask for g in gens} == {"t0.7", "t1"}
        verdicts = s.scalars(select(Verdict)).all()
        assert len(verdicts) == len(gens)
        assert all(v.verifier == "reward-model" and v.score in (2.0, -2.0) for v in verdicts)
        assert all(v.details == {"reward": v.score, "reward_model": "scripted-arithmetic"}
                   for v in verdicts)
        assert all(v.passed == (v.score > 0) for v in verdicts)
        # the prompts are the math strategy's own (what the tiny reward model was trained on)
        assert all(p.messages[0]["content"].startswith("Solve the following math problem")
                   for p in s.scalars(select(Prompt)))
        by_prompt: dict[int, list[float]] = {}
        for g in gens:
            by_prompt.setdefault(g.prompt_id, []).append(
                next(v.score for v in verdicts if v.generation_id == g.id))
        pairs = s.scalars(select(PreferencePair)).all()
        mixed = {pid for pid, sc in by_prompt.items() if max(sc) - min(sc) >= 1.0}
        assert mixed and {p.prompt_id for p in pairs} == mixed  # scripted: some right, some not
        for pair in pairs:
            assert "\\boxed" in pair.chosen[0]["content"]
            assert pair.score == 4.0 and pair.meta["margin"] == 4.0
            assert (pair.meta["chosen_score"], pair.meta["rejected_score"]) == (2.0, -2.0)
        sft = s.scalars(select(SftExample)).all()
        assert {x.prompt_id for x in sft} == {pid for pid, sc in by_prompt.items()
                                              if max(sc) > 0}
        assert all(x.score == 2.0 for x in sft)
        flags = dict(s.execute(select(Prompt.id, Prompt.flag)).all())
        assert all(flags[pid] == ("no_margin" if pid not in mixed else None) for pid in flags)


def test_scores_in_batches_of_score_batch(sessions, tmp_path: Path, monkeypatch) -> None:
    use(monkeypatch, reward_base_url="scripted://arithmetic")
    stand_in = ScriptedReward.named("arithmetic")
    monkeypatch.setattr("factory.strategies.reward.RewardScored.reward_model",
                        lambda self: stand_in)
    job_id = job(sessions, tmp_path, QUESTIONS[:5], score_batch=6)
    run_in_process(sessions, job_id, ScriptedLLM.named("arithmetic"))
    # one judge step of 5 prompts x 4 samples = 20 responses: batches of 6, 6, 6, 2
    assert (stand_in.calls, stand_in.scored) == (4, 20)


def test_flat_scores_make_no_pairs_and_min_score_gates_sft(sessions, tmp_path: Path,
                                                            monkeypatch) -> None:
    use(monkeypatch, reward_base_url="scripted://flat")  # every response 0.5
    job_id = job(sessions, tmp_path, QUESTIONS[:3], min_score=0.6)
    run_in_process(sessions, job_id, ScriptedLLM.named("arithmetic"))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        assert s.scalars(select(PreferencePair)).all() == []
        assert s.scalars(select(SftExample)).all() == []
        assert set(s.scalars(select(Verdict.score))) == {0.5}
        assert set(s.scalars(select(Prompt.flag))) == {"no_margin"}


def test_parameters_need_two_responses(sessions, tmp_path: Path) -> None:
    with pytest.raises(JobError, match="at least 2 responses"):
        job(sessions, tmp_path, temperatures=[0.7], per_setting=1)


@pytest.mark.parametrize("url, error", [
    ("dead", "LLMUnavailable"),  # nothing listens: retries spent
    ("scripted://nonsense", "unknown scripted reward model"),
])
def test_a_reward_server_that_fails_fails_the_step_and_pairs_nothing(
        sessions, tmp_path: Path, monkeypatch, url: str, error: str) -> None:
    if url == "dead":
        url = f"http://127.0.0.1:{free_port()}"
    use(monkeypatch, reward_base_url=url, llm_max_retries="1", llm_retry_base_s="0.01")
    job_id = job(sessions, tmp_path, QUESTIONS[:2])
    with pytest.raises(Exception) as info:  # noqa: PT011 - the type is part of what is checked
        run_in_process(sessions, job_id, ScriptedLLM.named("arithmetic"))
    assert error in f"{type(info.value).__name__}: {info.value}"
    with sessions() as s:
        assert s.scalars(select(Generation)).all()  # sampled, but never judged or paired
        assert s.scalars(select(Verdict)).all() == []
        assert s.scalars(select(PreferencePair)).all() == []
        assert s.scalars(select(SftExample)).all() == []
        assert s.get_one(Job, job_id).status != "done"


# --- the HTTP client against a fake server ----------------------------------------------------

def answer(body: dict) -> dict:
    text = body["messages"][-1]["content"]
    return {"model": body["model"], "data": [
        {"index": 0, "label": "reward", "probs": [float(len(text))], "num_classes": 1}]}


def client(handler, retries: int = 2) -> RewardClient:
    c = RewardClient("http://rm.test/v1", "tiny-reward", max_retries=retries, retry_base_s=0.001)
    c._http = httpx.AsyncClient(base_url=c.base_url, transport=httpx.MockTransport(handler))
    return c


ITEMS = [([{"role": "user", "content": "What is 1 + 1?"}], "2"),
         ([{"role": "user", "content": "Hi"}], "hello")]


def test_client_posts_each_conversation_to_classify_raw_and_keeps_order() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((str(request.url), body))
        return httpx.Response(200, json=answer(body))

    assert asyncio.run(client(handler).score(ITEMS)) == [1.0, 5.0]
    assert {url for url, _ in seen} == {"http://rm.test/classify"}  # /v1 dropped: root route
    for _, body in seen:
        assert body["use_activation"] is False  # raw logits, not sigmoid-squashed
        assert body["messages"][-1]["role"] == "assistant"
        assert body["model"] == "tiny-reward"


def test_client_retries_5xx_then_succeeds_and_gives_up_with_llm_unavailable() -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(503, text="warming up")
        return httpx.Response(200, json=answer(json.loads(request.content)))

    assert asyncio.run(client(flaky).score(ITEMS[:1])) == [1.0]
    assert calls["n"] == 2

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(LLMUnavailable, match="failed 3 attempts.*ConnectError"):
        asyncio.run(client(down).score(ITEMS[:1]))


@pytest.mark.parametrize("reply, match", [
    ({"data": []}, "asked for 1 score, got 0"),
    ({"data": [{"index": 0, "probs": [0.1, 0.9]}]}, "one label.*is this a reward model"),
    ({"data": [{"index": 0, "probs": ["high"]}]}, "not a finite number"),
    ({"data": [{"index": 0, "probs": [math.inf]}]}, "not a finite number"),
    ({"object": "error"}, "malformed answer"),
    ("not json", "non-JSON"),
])
def test_client_refuses_garbage_rather_than_make_up_a_score(reply, match: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(reply, str):
            return httpx.Response(200, text=reply)
        body = json.dumps(reply).replace("Infinity", "1e999")  # JSON cannot carry inf
        return httpx.Response(200, text=body, headers={"content-type": "application/json"})

    with pytest.raises(LLMResponseError, match=match):
        asyncio.run(client(handler).score(ITEMS[:1]))


def test_client_wrong_model_name_is_a_configuration_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text='{"message": "The model `x` does not exist."}')

    with pytest.raises(LLMUnavailable, match="HTTP 404.*check the model name"):
        asyncio.run(client(handler).score(ITEMS[:1]))


def test_connect_reward_follows_the_settings(monkeypatch) -> None:
    s = use(monkeypatch, reward_base_url="http://10.0.0.5:8001/v1", reward_model="rm")
    rm = connect_reward(s)
    assert isinstance(rm, RewardClient) and (rm.base_url, rm.model) == ("http://10.0.0.5:8001",
                                                                         "rm")
    asyncio.run(rm.aclose())
    assert isinstance(connect_reward(use(monkeypatch, reward_base_url="scripted://flat")),
                      ScriptedReward)
