"""Held-out accuracy of a served model on the arithmetic seeds, by operand size.

Single-sample accuracy at a given temperature, measured through the server (the real path),
so the tiny model's calibration - easy right, hard wrong - can be checked and recorded.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from factory.arithmetic import Problem, held_out
from factory.llm import LLM, SamplingParams
from factory.prompts import render
from verifiers.math_answer import check_many


async def _ask(llm: LLM, problems: list[Problem], temperature: float) -> list[str]:
    async def one(i: int, p: Problem) -> str:
        msgs = [{"role": "user", "content": render("math/solve_v1", problem=p.question)}]
        result = await llm.chat(msgs, SamplingParams(n=1, temperature=temperature, seed=i,
                                                     max_tokens=64))
        return result.samples[0].text

    try:
        return list(await asyncio.gather(*(one(i, p) for i, p in enumerate(problems))))
    finally:
        await llm.aclose()


def measure(llm: LLM, count: int = 400, temperature: float = 0.7) -> dict[str, float]:
    """Overall and per-digit accuracy: {"all": .., "1": .., "2": .., "3": ..}."""
    problems = held_out(count)
    texts = asyncio.run(_ask(llm, problems, temperature))
    checks = check_many([(str(p.answer), t) for p, t in zip(problems, texts, strict=True)])
    by: dict[str, list[bool]] = defaultdict(list)
    for p, c in zip(problems, checks, strict=True):
        by[str(p.digits)].append(c.correct)
        by["all"].append(c.correct)
    return {k: sum(v) / len(v) for k, v in sorted(by.items())}
