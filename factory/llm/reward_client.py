"""Reward models: (prompt messages, response) in, one scalar score out.

:class:`RewardClient` talks to a vLLM server running a sequence-classification reward model
with the pooling runner (``--runner pooling``). vLLM 0.32 serves it at ``POST /classify`` (at
the server's root, not under ``/v1``); the chat form of the request renders the conversation
with the model's own chat template, as the model was trained. ``use_activation: false`` asks
for the raw logit: with one label vLLM would otherwise apply a sigmoid, squashing the margins
the reward strategy compares.

vLLM's chat form takes one conversation a request, so a batch is many requests in flight under
one semaphore (the server batches them). Retries, backoff and errors are the generator
client's: connection errors, 429 and 5xx are retried with backoff; once retries are spent, or
on 401/403/404, :class:`LLMUnavailable`; any answer that is not one finite score per pair is an
:class:`LLMResponseError` - a score is never made up. Both fail the whole call. A request the
server refuses on its own merits (another 4xx: a conversation longer than the model's context)
is that item's :class:`LLMRefused`, in its place in the list, and the rest are scored.

``connect_reward(settings)`` picks the client behind ``FACTORY_REWARD_BASE_URL``: one server,
several separated by commas (spread over as the generator's are, ``factory.llm.spread``), or
``scripted://NAME`` (``?context=WORDS`` refuses longer conversations), an instant stand-in for
tests (see :data:`SCRIPTS`).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from factory.config import Settings
from factory.llm.base import LLMRefused, LLMResponseError
from factory.llm.connect import client_options, server_urls
from factory.llm.openai_client import OpenAIClient
from factory.llm.spread import Spread

Messages = list[dict[str, str]]
# One item to score: the prompt's messages and a response to them.
RewardItem = tuple[Messages, str]
# An item's score, or the server's refusal of that one item.
Scored = float | LLMRefused


class RewardModel(Protocol):
    model: str

    async def score(self, items: Sequence[RewardItem]) -> list[Scored]:
        """One score per item, in order, or that item's refusal; raises (LLMUnavailable,
        LLMResponseError) when the server is down or answers garbage, never a partial list."""
        ...

    async def aclose(self) -> None: ...


CHAT_MARKUP = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")  # the Qwen2 family's


def unsendable(response: str) -> LLMRefused | None:
    """A response that spells out chat markup is not sent: the server's chat template would
    read it as a turn boundary, which a policy learns to exploit (typed into a reply, it lifted
    any answer above the right one on the tiny reward model)."""
    mark = next((m for m in CHAT_MARKUP if m in response), None)
    return None if mark is None else LLMRefused(
        f"not sent: the response spells out chat markup {mark!r}, which the reward server's "
        "chat template would read as a turn boundary")


async def score_each(score_one: Callable[[Messages, str], Awaitable[float]],
                     items: Sequence[RewardItem]) -> list[Scored]:
    """Every item at once; a refused item (by the server, or not sent: ``unsendable``) keeps
    its place, any other failure fails all."""
    async def one(messages: Messages, response: str) -> Scored:
        if refused := unsendable(response):
            return refused
        try:
            return await score_one(messages, response)
        except LLMRefused as exc:
            return exc

    return list(await asyncio.gather(*(one(m, r) for m, r in items)))


def conversation(messages: Messages, response: str) -> Messages:
    return [*messages, {"role": "assistant", "content": response}]


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LLMResponseError(f"{where}: score is not a finite number: {value!r}")
    return float(value)


class RewardClient(OpenAIClient):
    """A vLLM reward server: ``base_url`` is the server's root (a trailing ``/v1`` is
    dropped, so the generator's URL style works too)."""

    def __init__(self, base_url: str, model: str, api_key: str = "EMPTY", **kw: Any) -> None:
        root = re.sub(r"/v1/?$", "", base_url.rstrip("/"))
        super().__init__(root, model, api_key, **kw)

    async def score(self, items: Sequence[RewardItem]) -> list[Scored]:
        return await score_each(self.score_one, items)

    async def score_one(self, messages: Messages, response: str) -> float:
        body = {"model": self.model, "messages": conversation(messages, response),
                "use_activation": False, "add_generation_prompt": False}
        async with self._sem:
            data = await self._post(body, path="/classify")
        where = f"{self.base_url}/classify"
        try:
            rows = data["data"]
            if len(rows) != 1:
                raise LLMResponseError(f"{where}: asked for 1 score, got {len(rows)}")
            probs = rows[0]["probs"]
            if not isinstance(probs, list) or len(probs) != 1:
                raise LLMResponseError(f"{where}: a reward model has one label; the answer "
                                       f"has {probs!r} (is this a reward model?)")
        except (KeyError, TypeError, IndexError) as exc:
            raise LLMResponseError(f"{where}: malformed answer: {exc!r}: "
                                   f"{str(data)[:200]}") from exc
        return _finite(probs[0], where)


class SpreadReward(Spread[RewardClient]):
    """Several reward servers: each item goes to the one with the fewest in flight, and past
    one that is down, with the generator's circuit breakers."""

    async def score(self, items: Sequence[RewardItem]) -> list[Scored]:
        return await score_each(
            lambda m, r: self.route(lambda server: server.score_one(m, r)), items)


# --- the scripted stand-in -------------------------------------------------------------------

Scorer = Callable[[Messages, str], float]
_CLAIM = re.compile(r"(-?\d+) ([+-]) (-?\d+) = (-?\d+)")
_BOXED = re.compile(r"\\boxed\{(-?\d+)\}")


def arithmetic(messages: Messages, response: str) -> float:
    """A perfect arithmetic checker: +2 for a right boxed answer, -2 for a wrong one, -3 for
    none; other prompts score by length (longer is better, capped) so any seed set works."""
    claim, boxed = _CLAIM.search(response), _BOXED.search(response)
    if claim is None or boxed is None:
        return -3.0 if "What is" in messages[-1]["content"] else min(len(response), 400) / 100
    a, op, b = int(claim[1]), claim[2], int(claim[3])
    truth = a + b if op == "+" else a - b
    return 2.0 if int(boxed[1]) == truth else -2.0


def flat(messages: Messages, response: str) -> float:
    """The same score for everything: no pair ever clears a margin."""
    return 0.5


SCRIPTS: dict[str, Scorer] = {"arithmetic": arithmetic, "flat": flat}


class ScriptedReward:
    def __init__(self, scorer: Scorer, model: str = "scripted-reward",
                 context_words: int | None = None) -> None:
        self.scorer = scorer
        self.model = model
        self.context_words = context_words
        self.calls = 0  # score() calls (batches)
        self.scored = 0

    @classmethod
    def named(cls, name: str, context_words: int | None = None) -> ScriptedReward:
        """A built-in script; ``context_words`` imitates the model's context: a longer
        conversation is refused as vLLM refuses it."""
        if name not in SCRIPTS:
            raise LLMResponseError(f"unknown scripted reward model {name!r}; "
                                   f"known: {sorted(SCRIPTS)}")
        return cls(SCRIPTS[name], model=f"scripted-{name}", context_words=context_words)

    async def score(self, items: Sequence[RewardItem]) -> list[Scored]:
        self.calls += 1
        self.scored += len(items)
        return await score_each(self._score_one, items)

    async def _score_one(self, messages: Messages, response: str) -> float:
        words = sum(len(m["content"].split()) for m in conversation(messages, response))
        if self.context_words is not None and words > self.context_words:
            raise LLMRefused(f"scripted://{self.model} refused the request: HTTP 400: This "
                             f"model's maximum context length is {self.context_words} tokens; "
                             f"the conversation has {words}")
        return self.scorer(messages, response)

    async def aclose(self) -> None:
        return None


def connect_reward(settings: Settings) -> RewardModel:
    url = settings.reward_base_url
    if url.startswith("scripted://"):
        parsed = urlsplit(url)
        context = parse_qs(parsed.query).get("context")
        return ScriptedReward.named(parsed.netloc, int(context[0]) if context else None)
    options = client_options(settings)
    servers = [RewardClient(u, settings.reward_model, **options) for u in server_urls(url)]
    return servers[0] if len(servers) == 1 else SpreadReward(servers)
