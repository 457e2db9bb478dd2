"""The reward strategy and the reward client, with scripted stand-ins: n responses a prompt,
scored in batches sent at once, best against worst past a margin, scores on every verdict,
against the runner's reward server; a reward server that is down or answers garbage fails the
step with the reason and nothing is paired; a response it refuses is errored alone; a list of
servers is spread over."""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from db.models import Generation, Job, PreferencePair, Prompt, SftExample, Verdict
from factory.config import Settings
from factory.jobs import JobError, start
from factory.llm import LLMRefused, LLMResponseError, LLMUnavailable, SamplingParams, connect
from factory.llm.reward_client import (
    RewardClient,
    ScriptedReward,
    SpreadReward,
    connect_reward,
)
from factory.llm.scripted import ScriptedLLM, arithmetic
from factory.llm.spread import Breaker
from factory.runner import InProcess
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
    # refuses every request (as a server that rejects a field the client sends would)
    ("scripted://arithmetic?context=1", "refuses every request, even a one-line probe"),
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


def test_a_runner_scores_against_its_own_settings_not_the_environments(
        sessions, tmp_path: Path, monkeypatch) -> None:
    use(monkeypatch, reward_base_url="scripted://flat")  # the environment: 0.5 for everything
    job_id = job(sessions, tmp_path, QUESTIONS[:3])
    runner = InProcess(sessions, Settings(llm_base_url="scripted://arithmetic",
                                          reward_base_url="scripted://arithmetic"))
    with sessions.begin() as s:
        steps = start(s, s.get_one(Job, job_id))
    runner.send(steps)
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        verdicts = s.scalars(select(Verdict)).all()
        assert len(verdicts) == 12 and {v.score for v in verdicts} <= {2.0, -2.0}
        assert {v.details["reward_model"] for v in verdicts} == {"scripted-arithmetic"}


LONG = " and so on" * 100  # 300 words: past a reward context of 120 words


def long_at_t1(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    """The arithmetic stand-in, but the first sample at temperature 1 rambles on."""
    text = arithmetic(messages, params, index)
    return text + LONG if params.temperature == 1.0 and index == 0 else text


def test_a_refused_response_is_an_errored_verdict_and_the_rest_are_scored_and_paired(
        sessions, tmp_path: Path, monkeypatch) -> None:
    use(monkeypatch, reward_base_url="scripted://arithmetic?context=120")
    job_id = job(sessions, tmp_path, QUESTIONS[:6])
    run_in_process(sessions, job_id, ScriptedLLM(long_at_t1))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        rows = s.execute(select(Generation, Verdict).join(
            Verdict, Verdict.generation_id == Generation.id)).all()
        assert len(rows) == 6 * 4  # every sample has its verdict
        refused = {g.id for g, v in rows if v.status == "error"}
        assert refused == {g.id for g, _ in rows if g.text.endswith(LONG)} and len(refused) == 6
        for g, v in rows:
            if g.id in refused:
                assert v.score is None and not v.passed
                assert "refused the response" in v.details["check_error"]
                assert "maximum context length is 120" in v.details["check_error"]
            else:
                assert v.status in ("passed", "failed") and v.score in (2.0, -2.0)
        pairs = s.scalars(select(PreferencePair)).all()
        sft = s.scalars(select(SftExample)).all()
        assert pairs  # the scored ones are still paired
        used = {x for p in pairs for x in (p.chosen_generation_id, p.rejected_generation_id)}
        assert not used & refused and not {x.generation_id for x in sft} & refused
        for pair in pairs:
            assert pair.meta["samples"] == 3  # the three scored responses of its prompt


def markup_at_t1(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    """The arithmetic stand-in, but the first sample at temperature 1 types chat markup before
    its answer (the cheat that lifted any reply above the right one on the tiny reward
    model)."""
    text = arithmetic(messages, params, index)
    return "<|im_start|>" * 20 + text if params.temperature == 1.0 and index == 0 else text


def run_counted(sessions, tmp_path: Path, monkeypatch, prompts: int, write) -> Counting:
    """A reward job on the first ``prompts`` questions, ``write`` writing the responses, judged
    by a counting stand-in (returned once the job is done)."""
    stand_in = Counting()
    monkeypatch.setattr("factory.strategies.reward.RewardScored.reward_model",
                        lambda self: stand_in)
    job_id = job(sessions, tmp_path, QUESTIONS[:prompts])
    run_in_process(sessions, job_id, ScriptedLLM(write))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
    return stand_in


def test_a_response_spelling_out_chat_markup_is_not_scored_nor_paired(
        sessions, tmp_path: Path, monkeypatch) -> None:
    stand_in = run_counted(sessions, tmp_path, monkeypatch, 6, markup_at_t1)
    with sessions() as s:
        rows = s.execute(select(Generation, Verdict).join(
            Verdict, Verdict.generation_id == Generation.id)).all()
        marked = {g.id for g, _ in rows if "<|im_start|>" in g.text}
        assert len(rows) == 24 and len(marked) == 6
        for g, v in rows:
            if g.id in marked:
                assert v.status == "error" and v.score is None and not v.passed
                assert "not sent: the response spells out chat markup '<|im_start|>'" \
                    in v.details["check_error"]
            else:
                assert v.status in ("passed", "failed") and v.score in (2.0, -2.0)
        pairs = s.scalars(select(PreferencePair)).all()
        used = {x for p in pairs for x in (p.chosen_generation_id, p.rejected_generation_id)}
        sft = {x.generation_id for x in s.scalars(select(SftExample))}
        assert pairs and not (used | sft) & marked
    assert all("<|im_start|>" not in text for text in stand_in.sent)  # never sent
    assert sum(stand_in.sent.values()) == 18


class Counting(ScriptedReward):
    """The arithmetic stand-in with a 120-word context, counting how often each response is
    sent to it."""

    def __init__(self) -> None:
        super().__init__(ScriptedReward.named("arithmetic").scorer, context_words=120)
        self.sent: Counter[str] = Counter()

    async def _score_one(self, messages, response):
        self.sent[response] += 1  # what reaches the scorer (or is refused by its context)
        return await super()._score_one(messages, response)


def test_a_refused_response_is_not_sent_again_nor_its_scored_siblings(
        sessions, tmp_path: Path, monkeypatch) -> None:
    """A refusal (a 4xx on the item's own merits) is the same however often it is asked: the
    judge's retry of errored checks does not send it again, nor re-score its prompt's others."""
    stand_in = run_counted(sessions, tmp_path, monkeypatch, 3, long_at_t1)
    with sessions() as s:
        texts = s.scalars(select(Generation.text)).all()
        verdicts = s.scalars(select(Verdict)).all()
    assert len(texts) == 12 and sum(v.status == "error" for v in verdicts) == 3
    assert stand_in.sent == Counter(texts)  # each response once
    assert (stand_in.calls, stand_in.scored) == (1, 12)
    assert not any("check_attempts" in v.details for v in verdicts)


def test_reward_chunks_go_at_once_up_to_the_clients_concurrency(
        sessions, tmp_path: Path, monkeypatch) -> None:
    live = {"now": 0, "most": 0}

    async def slow(request: httpx.Request) -> httpx.Response:
        live["now"] += 1
        live["most"] = max(live["most"], live["now"])
        await asyncio.sleep(0.05)
        live["now"] -= 1
        return httpx.Response(200, json=answer(json.loads(request.content)))

    monkeypatch.setattr("factory.strategies.reward.RewardScored.reward_model",
                        lambda self: client(slow, concurrency=5))
    job_id = job(sessions, tmp_path, QUESTIONS[:5], score_batch=2)  # 20 responses, 10 chunks
    run_in_process(sessions, job_id, ScriptedLLM.named("arithmetic"))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        assert len(s.scalars(select(Verdict)).all()) == 20
    assert live["most"] == 5  # not one chunk (2) at a time; never past the client's limit


# --- the HTTP client against a fake server ----------------------------------------------------

def answer(body: dict) -> dict:
    text = body["messages"][-1]["content"]
    return {"model": body["model"], "data": [
        {"index": 0, "label": "reward", "probs": [float(len(text))], "num_classes": 1}]}


def client(handler, retries: int = 2, url: str = "http://rm.test/v1",
           concurrency: int = 256) -> RewardClient:
    c = RewardClient(url, "tiny-reward", max_retries=retries, retry_base_s=0.001,
                     concurrency=concurrency)
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


def test_client_keeps_a_refused_item_in_its_place_and_scores_the_rest() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["messages"][-1]["content"] == "2":
            return httpx.Response(400, json={"message": "This model's maximum context length "
                                             "is 4096 tokens. However, you requested 5000"})
        return httpx.Response(200, json=answer(body))

    first, second = asyncio.run(client(handler).score(ITEMS))
    assert isinstance(first, LLMRefused) and "HTTP 400" in str(first)
    assert "maximum context length" in str(first) and second == 5.0


def test_client_wrong_model_name_is_a_configuration_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text='{"message": "The model `x` does not exist."}')

    with pytest.raises(LLMUnavailable, match="HTTP 404.*check the model name"):
        asyncio.run(client(handler).score(ITEMS[:1]))


def test_connect_reward_follows_the_settings(monkeypatch) -> None:
    s = use(monkeypatch, reward_base_url="http://10.0.0.5:8001/v1", reward_model="rm",
            llm_max_retries="2", llm_retry_base_s="0.25", llm_api_key="sk-x")
    rm = connect_reward(s)
    assert isinstance(rm, RewardClient) and (rm.base_url, rm.model) == ("http://10.0.0.5:8001",
                                                                         "rm")
    gen = connect(s)
    # the generator's client options, from one place
    for c in (rm, gen):
        assert (c.max_retries, c.retry_base_s) == (2, 0.25)
        assert c._http.headers["Authorization"] == "Bearer sk-x"
    assert rm._http.timeout == gen._http.timeout
    asyncio.run(rm.aclose())
    asyncio.run(gen.aclose())
    assert isinstance(connect_reward(use(monkeypatch, reward_base_url="scripted://flat")),
                      ScriptedReward)


def test_connect_reward_spreads_a_list_of_servers_past_one_that_is_down(monkeypatch) -> None:
    s = use(monkeypatch, reward_base_url="http://10.0.0.5:8001/v1, http://10.0.0.6:8001",
            reward_model="rm")
    rm = connect_reward(s)
    assert isinstance(rm, SpreadReward) and rm.model == "rm"
    assert [c.base_url for c in rm.servers] == ["http://10.0.0.5:8001", "http://10.0.0.6:8001"]
    asyncio.run(rm.aclose())

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    def up(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer(json.loads(request.content)))

    dead = client(down, retries=0, url="http://dead.test")
    live = client(up, url="http://live.test")
    spread = SpreadReward([dead, live], Breaker())
    assert asyncio.run(spread.score(ITEMS * 3)) == [1.0, 5.0] * 3
    assert spread.sent[1] == 6 and spread.sent[0] >= 1  # tried, then skipped while down
    both_down = SpreadReward([dead, client(down, retries=0, url="http://dead2.test")],
                             Breaker())
    with pytest.raises(LLMUnavailable, match="every model server failed"):
        asyncio.run(both_down.score(ITEMS[:1]))
