"""A scripted stand-in for a model: instant, deterministic, same interface as the real client.

Used by unit tests and the orchestration benchmark. ``scripted://arithmetic`` imitates the tiny
demo model: small sums mostly right, large ones mostly wrong, reproducible for a given seed;
``scripted://autoif`` answers the autoif strategy's asks (scripted_autoif.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable

from factory.llm import scripted_autoif
from factory.llm.base import ChatResult, Completion, LLMRefused, LLMResponseError, SamplingParams

Responder = Callable[[list[dict[str, str]], SamplingParams, int], str]

_SUM = re.compile(r"What is (\d+) ([+-]) (\d+)\?")
_P_RIGHT = {1: 0.95, 2: 0.6, 3: 0.15}


def unit_random(*parts: object) -> float:
    """A deterministic number in [0, 1) from any parts (stable across processes)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def arithmetic(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    match = _SUM.search(messages[-1]["content"])
    if match is None:
        return "I am not sure how to answer that."
    a, op, b = int(match[1]), match[2], int(match[3])
    truth = a + b if op == "+" else a - b
    digits = max(len(str(a)), len(str(b)))
    r = unit_random(params.seed, index, a, op, b)
    answer = truth if r < _P_RIGHT[digits] else truth + (1 + int(r * 1000) % 9) * (-1) ** index
    return f"{a} {op} {b} = {answer}.\nThe answer is \\boxed{{{answer}}}."


def garbage(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    return "\x00\ufffd}{ ]]" * (index + 1)


SCRIPTS: dict[str, Responder] = {"arithmetic": arithmetic, "garbage": garbage,
                                 "autoif": scripted_autoif.autoif}


class ScriptedLLM:
    def __init__(self, responder: Responder, model: str = "scripted", delay_s: float = 0.0,
                 context_words: int | None = None) -> None:
        self.responder = responder
        self.model = model
        self.delay_s = delay_s
        self.context_words = context_words
        self.calls = 0
        self.asked: list[str] = []

    @classmethod
    def named(cls, name: str, delay_s: float = 0.0, context_words: int | None = None
              ) -> ScriptedLLM:
        """A built-in script; ``delay_s`` imitates a slow server (for crash tests), and
        ``context_words`` a context limit: a longer prompt is refused as vLLM refuses it."""
        if name not in SCRIPTS:
            raise LLMResponseError(f"unknown scripted model {name!r}; known: {sorted(SCRIPTS)}")
        return cls(SCRIPTS[name], model=f"scripted-{name}", delay_s=delay_s,
                   context_words=context_words)

    async def chat(self, messages: list[dict[str, str]], params: SamplingParams) -> ChatResult:
        self.calls += 1
        self.asked.append(messages[-1]["content"])
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        words = sum(len(m["content"].split()) for m in messages)
        if self.context_words is not None and words > self.context_words:
            raise LLMRefused(
                f"scripted://{self.model} refused the request: HTTP 400: This model's maximum "
                f"context length is {self.context_words} tokens; the messages have {words}")
        texts = [self.responder(messages, params, i) for i in range(params.n)]
        samples = [Completion(index=i, text=t, finish_reason="stop",
                              completion_tokens=len(t.split())) for i, t in enumerate(texts)]
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return ChatResult(model=self.model, samples=samples, prompt_tokens=prompt_tokens,
                          completion_tokens=sum(s.completion_tokens or 0 for s in samples),
                          latency_s=0.0)

    async def aclose(self) -> None:
        return None
