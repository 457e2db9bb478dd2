"""The model client against the real vLLM server on the tiny model."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel

from factory.llm import LLMResponseError, LLMUnavailable, SamplingParams
from factory.llm.openai_client import OpenAIClient
from factory.prompts import render
from tests.conftest import free_port

MSG = [{"role": "user", "content": render("math/solve_v1", problem="What is 12 + 7?")}]


def ask(url: str, params: SamplingParams, messages=MSG, **kw):
    async def go():
        client = OpenAIClient(url, "tiny-qwen2", **kw)
        try:
            return await client.chat(messages, params)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_n_samples_come_back_with_token_counts(vllm_url: str) -> None:
    r = ask(vllm_url, SamplingParams(n=5, temperature=1.0, max_tokens=40, seed=1))
    assert len(r.samples) == 5 and [s.index for s in r.samples] == list(range(5))
    assert r.prompt_tokens and r.prompt_tokens > 10
    assert all(s.completion_tokens and s.finish_reason in ("stop", "length") for s in r.samples)
    assert sum(s.completion_tokens for s in r.samples) == r.completion_tokens
    assert r.model == "tiny-qwen2" and r.latency_s > 0


def test_same_seed_reproduces_the_same_text(vllm_url: str) -> None:
    p = SamplingParams(n=4, temperature=1.5, max_tokens=40, seed=1234)
    a = [s.text for s in ask(vllm_url, p).samples]
    b = [s.text for s in ask(vllm_url, p).samples]
    assert a == b
    others = [[s.text for s in ask(vllm_url, p.model_copy(update={"seed": k})).samples]
              for k in range(5)]
    assert any(o != a for o in others)


class Answer(BaseModel):
    """A judge-like reply: bounded fields, so even the tiny model's JSON ends."""

    score: Literal[1, 2, 3, 4, 5]
    verdict: Literal["right", "wrong"]
    confident: bool


def test_structured_output_parses_against_its_schema(vllm_url: str) -> None:
    p = SamplingParams(n=3, temperature=0.7, max_tokens=60, seed=3,
                       json_schema=Answer.model_json_schema())
    for s in ask(vllm_url, p).samples:
        assert s.finish_reason == "stop"
        Answer.model_validate(json.loads(s.text))


def test_server_down_retries_then_fails_clearly() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LLMUnavailable, match=r"failed 4 attempts; last error: ConnectError"):
        ask(url, SamplingParams(), max_retries=3, retry_base_s=0.01)


def test_5xx_then_success_is_retried_and_bad_request_is_not() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            return httpx.Response(500, text="engine dead")
        body = {"model": "m", "choices": [{"index": 0, "message": {"content": "hi"},
                                           "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
        return httpx.Response(200, json=body)

    async def go(h):
        client = OpenAIClient("http://test/v1", "m", retry_base_s=0.01)
        client._http = httpx.AsyncClient(base_url="http://test/v1",
                                         transport=httpx.MockTransport(h))
        try:
            return await client.chat(MSG, SamplingParams())
        finally:
            await client.aclose()

    r = asyncio.run(go(handler))
    assert calls["n"] == 3 and r.samples[0].text == "hi" and r.samples[0].completion_tokens == 1
    with pytest.raises(LLMResponseError, match="HTTP 400"):
        asyncio.run(go(lambda req: httpx.Response(400, text="bad schema")))
    with pytest.raises(LLMResponseError, match="asked for 1 samples, server returned 0"):
        asyncio.run(go(lambda req: httpx.Response(200, json={"choices": []})))
    with pytest.raises(LLMResponseError, match="non-JSON"):
        asyncio.run(go(lambda req: httpx.Response(200, text="<html>")))
    # a wrong key or model name: no prompt can succeed, so it is the step's failure
    for status in (401, 403, 404):
        with pytest.raises(LLMUnavailable, match=f"HTTP {status}.*model name, API key"):
            asyncio.run(go(lambda req, status=status: httpx.Response(status, text="no")))


class Down:
    """A server whose retries are spent."""

    def __init__(self) -> None:
        self.calls = 0

    async def chat(self, messages, params):
        self.calls += 1
        raise LLMUnavailable("model server http://down failed 1 attempts")

    async def aclose(self) -> None:
        return None


def test_requests_spread_over_servers_by_load_and_skip_a_dead_one() -> None:
    from factory.llm.scripted import ScriptedLLM
    from factory.llm.spread import SpreadLLM

    msgs = [{"role": "user", "content": "What is 2 + 3?"}]

    async def burst(llm, count: int) -> list:
        return await asyncio.gather(*(llm.chat(msgs, SamplingParams(n=1, seed=i))
                                      for i in range(count)))

    a, b = (ScriptedLLM.named("arithmetic", delay_s=0.05) for _ in range(2))
    pool = SpreadLLM([a, b])
    assert len(asyncio.run(burst(pool, 40))) == 40
    assert a.calls == b.calls == 20  # equal servers, all at once: an even split
    for _ in range(10):  # one at a time: both idle each time, so they take turns
        asyncio.run(burst(pool, 1))
    assert a.calls + b.calls == 50 and abs(a.calls - b.calls) <= 1
    slow, instant = ScriptedLLM.named("arithmetic", delay_s=0.05), ScriptedLLM.named("arithmetic")
    asyncio.run(burst(SpreadLLM([slow, instant]), 40))
    assert slow.calls == 1 and instant.calls == 39  # the busy server is passed over
    dead = Down()
    survivor = ScriptedLLM.named("arithmetic")
    results = asyncio.run(burst(SpreadLLM([dead, survivor]), 6))
    assert len(results) == 6 and survivor.calls == 6 and dead.calls >= 1
    with pytest.raises(LLMUnavailable, match="every model server failed.*down.*down"):
        asyncio.run(burst(SpreadLLM([Down(), Down()]), 1))


def test_a_list_of_urls_spreads_over_real_servers_and_survives_a_dead_one(vllm_url) -> None:
    from factory.config import Settings
    from factory.llm import connect

    dead = f"http://127.0.0.1:{free_port()}/v1"
    llm = connect(Settings(llm_base_url=f"{dead}, {vllm_url}", llm_max_retries=0))

    async def run() -> list:
        try:
            return await asyncio.gather(*(llm.chat(
                [{"role": "user", "content": render("math/solve_v1", problem=f"What is {i} + 1?")}],
                SamplingParams(n=2, max_tokens=24, seed=i)) for i in range(8)))
        finally:
            await llm.aclose()

    results = asyncio.run(run())
    assert all(len(r.samples) == 2 and r.model == "tiny-qwen2" for r in results)
    assert llm.sent[0] >= 1 and llm.sent[1] >= 8  # the dead one was tried, the live one served
