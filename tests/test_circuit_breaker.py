"""A dead server in a list costs one request its retries, not every request: its breaker opens,
later requests skip it, one probe goes to it after the cool-down, and it is used again once it
answers. The breakers outlive a SpreadLLM, since connect() builds one per step."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from factory.llm import LLMUnavailable, SamplingParams
from factory.llm.base import ChatResult, Completion
from factory.llm.spread import BREAKERS, Breaker, SpreadLLM

MSGS = [{"role": "user", "content": "What is 2 + 3?"}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Server:
    """A model server that is up or down; a down one fails after a short while, as one whose
    retries are spent does (shortened), so concurrent requests overlap on it."""

    def __init__(self, name: str, up: bool = True) -> None:
        self.base_url = f"http://{name}-{uuid.uuid4().hex[:8]}/v1"
        self.up = up
        self.calls = 0

    async def chat(self, messages, params) -> ChatResult:
        self.calls += 1
        await asyncio.sleep(0.01)
        if not self.up:
            raise LLMUnavailable(f"model server {self.base_url} failed 1 attempts")
        return ChatResult(model="fake", samples=[Completion(index=0, text="5", finish_reason="stop",
                                                        completion_tokens=1)],
                          prompt_tokens=1, completion_tokens=1, latency_s=0.0)

    async def aclose(self) -> None:
        return None


def ask(llm: SpreadLLM, count: int = 1, at_once: bool = False) -> list[ChatResult]:
    async def one(i: int) -> ChatResult:
        return await llm.chat(MSGS, SamplingParams(seed=i))

    async def run() -> list[ChatResult]:
        if at_once:
            return list(await asyncio.gather(*(one(i) for i in range(count))))
        return [await one(i) for i in range(count)]

    return asyncio.run(run())


def test_a_dead_server_is_called_once_then_skipped_also_by_the_next_spread() -> None:
    breaker = Breaker(cooldown_s=10, clock=Clock())
    dead, live = Server("dead", up=False), Server("live")
    assert len(ask(SpreadLLM([dead, live], breaker), 6)) == 6
    assert dead.calls == 1 and live.calls == 6
    assert len(ask(SpreadLLM([live, dead], breaker), 6, at_once=True)) == 6  # a new step
    assert dead.calls == 1 and live.calls == 12


def test_requests_in_flight_when_a_server_dies_open_it_once() -> None:
    clock = Clock()
    breaker = Breaker(cooldown_s=10, clock=clock)
    a, b = Server("a"), Server("b")
    spread = SpreadLLM([a, b], breaker)
    ask(spread, 8, at_once=True)
    a.up = False
    assert len(ask(spread, 8, at_once=True)) == 8  # those that hit the dead one moved on to b
    assert a.calls > 4
    assert breaker.reopens_at(breaker.key(a)) == clock.now + 10  # one failure, not a doubling


def test_after_the_cool_down_one_probe_then_a_longer_cool_down_then_recovery() -> None:
    clock = Clock()
    breaker = Breaker(cooldown_s=10, max_cooldown_s=15, clock=clock)
    dead, live = Server("dead", up=False), Server("live")
    spread = SpreadLLM([dead, live], breaker)
    ask(spread, 2)
    assert dead.calls == 1
    clock.now += 9
    ask(spread, 4, at_once=True)
    assert dead.calls == 1  # still cooling down
    clock.now += 1
    assert len(ask(spread, 6, at_once=True)) == 6
    assert dead.calls == 2  # half-open: one probe, the others skipped it while it was out
    clock.now += 10
    ask(spread, 4)
    assert dead.calls == 2  # the failed probe doubled the cool-down (capped at 15 s)
    clock.now += 5
    dead.up = True
    ask(spread, 2)
    assert dead.calls == 3  # the probe, answered: the breaker closes
    ask(SpreadLLM([dead, live], breaker), 8, at_once=True)
    assert dead.calls == 3 + 4  # and it takes its share again


def test_all_servers_dead_still_tries_one_and_names_every_reason() -> None:
    clock = Clock()
    breaker = Breaker(cooldown_s=10, clock=clock)
    a, b = Server("a", up=False), Server("b", up=False)
    with pytest.raises(LLMUnavailable, match=f"every model server failed.*({a.base_url}|"
                                             f"{b.base_url}).*({a.base_url}|{b.base_url})"):
        ask(SpreadLLM([a, b], breaker))
    assert a.calls == b.calls == 1
    clock.now += 1
    with pytest.raises(LLMUnavailable) as caught:
        ask(SpreadLLM([a, b], breaker))
    assert a.calls + b.calls == 3  # every breaker open: one of them is still tried
    assert a.base_url in str(caught.value) and b.base_url in str(caught.value)
    assert "skipped" in str(caught.value)
    a.up = b.up = True
    assert len(ask(SpreadLLM([a, b], breaker), 2)) == 2  # open breakers alone fail no request


def test_the_default_breakers_are_process_wide_and_doubles_without_a_url_stay_apart() -> None:
    dead, live = Server("dead", up=False), Server("live")
    ask(SpreadLLM([dead, live]), 4)
    ask(SpreadLLM([dead, live]), 4)
    assert dead.calls == 1 and SpreadLLM([live]).breaker is BREAKERS

    class NoUrl:
        async def chat(self, messages, params):
            raise AssertionError

        async def aclose(self) -> None:
            return None

    one, two = NoUrl(), NoUrl()
    assert BREAKERS.key(one) != BREAKERS.key(two)
    BREAKERS.failed(BREAKERS.key(one))
    assert BREAKERS.admit(BREAKERS.key(two)) == "closed"


def test_a_cancelled_probe_lets_the_next_request_probe() -> None:
    clock = Clock()
    breaker = Breaker(cooldown_s=10, clock=clock)
    key = breaker.key(Server("x"))
    breaker.failed(key)
    clock.now += 10
    assert breaker.admit(key) == "probe" and breaker.admit(key) is None
    breaker.released(key)
    assert breaker.admit(key) == "probe"
    breaker.succeeded(key)
    assert breaker.admit(key) == "closed"
