"""A GPU-shaped fake OpenAI-compatible server, to measure on a CPU box what a GPU would see.

Continuous batching: at most ``slots`` sequences decode at once; every decode step takes
``step_ms + per_seq_ms x running`` and gives each running sequence one token; a request's ``n``
sequences queue for free slots. So the server's throughput peaks at a full batch
(``slots / (step_ms + per_seq_ms x slots)`` tokens/s, about 7,600 with the defaults) and falls
whenever a client lets the running set shrink. Answers are deterministic: an arithmetic
question ("What is A + B?") is answered right with a hidden per-problem chance (from a hash of
the problem) and otherwise off by a few, each sample worded apart; the length of each answer in
tokens is drawn from the request's seed. ``GET /stats`` reports tokens, busy time, mean
occupancy and the share of the full-batch maximum reached since the last ``POST /stats/reset``.

Usage: .venv/bin/python bench/gpu_server.py [--port 8100] [--slots 256]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SUM = re.compile(r"What is (\d+) ([+-]) (\d+)\?")


def unit(*parts: object) -> float:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def answer(prompt: str, seed: int, index: int) -> tuple[str, int]:
    """The text of one sample and its length in tokens."""
    tokens = 24 + int(unit("len", seed, index) * 24)
    match = SUM.search(prompt)
    if match is None:
        return "I am not sure how to answer that.", tokens
    a, op, b = int(match[1]), match[2], int(match[3])
    truth = a + b if op == "+" else a - b
    p_right = 0.05 + 0.9 * unit("difficulty", a, op, b)  # hidden, per problem
    right = unit("right", seed, index, a, op, b) < p_right
    value = truth if right else truth + 1 + int(unit("off", seed, index) * 9)
    # samples at a temperature above 0 differ in wording even when they agree on the answer
    draft = int(unit("draft", seed, index, a, op, b) * 10**6)
    return (f"Draft {draft:06d}: {a} {op} {b} = {value}.\nThe answer is \\boxed{{{value}}}.",
            tokens)


@dataclass
class Sequence:
    tokens_left: int
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Engine:
    def __init__(self, slots: int, step_ms: float, per_seq_ms: float) -> None:
        self.slots, self.step_ms, self.per_seq_ms = slots, step_ms, per_seq_ms
        self.waiting: list[Sequence] = []
        self.running: list[Sequence] = []
        self.wake = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        self.tokens = 0
        self.steps = 0
        self.occupancy_sum = 0
        self.first: float | None = None
        self.last: float | None = None

    @property
    def max_tokens_per_s(self) -> float:
        return self.slots / ((self.step_ms + self.per_seq_ms * self.slots) / 1000)

    def submit(self, seqs: list[Sequence]) -> None:
        self.waiting.extend(seqs)
        if self.first is None:
            self.first = time.perf_counter()
        self.wake.set()

    async def run(self) -> None:
        while True:
            if not self.running and not self.waiting:
                self.wake.clear()
                await self.wake.wait()
            free = self.slots - len(self.running)
            self.running.extend(self.waiting[:free])
            del self.waiting[:free]
            step = (self.step_ms + self.per_seq_ms * len(self.running)) / 1000
            await asyncio.sleep(step)
            self.steps += 1
            self.occupancy_sum += len(self.running)
            self.tokens += len(self.running)
            still = []
            for seq in self.running:
                seq.tokens_left -= 1
                if seq.tokens_left <= 0:
                    seq.done.set()
                else:
                    still.append(seq)
            self.running = still
            self.last = time.perf_counter()

    def stats(self) -> dict[str, float]:
        elapsed = (self.last - self.first) if self.first and self.last else 0.0
        rate = self.tokens / elapsed if elapsed else 0.0
        return {"tokens": self.tokens, "elapsed_s": round(elapsed, 3),
                "tokens_per_s": round(rate, 1),
                "max_tokens_per_s": round(self.max_tokens_per_s, 1),
                "share_of_max": round(rate / self.max_tokens_per_s, 4),
                "mean_occupancy": round(self.occupancy_sum / self.steps, 1) if self.steps else 0}


def make_app(engine: Engine) -> Starlette:
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        n, seed = int(body.get("n", 1)), int(body.get("seed") or 0)
        limit = int(body.get("max_tokens", 512))
        drawn = [answer(prompt, seed, i) for i in range(n)]
        seqs = [Sequence(min(tokens, limit)) for _, tokens in drawn]
        engine.submit(seqs)
        await asyncio.gather(*(s.done.wait() for s in seqs))
        choices = [{"index": i, "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop" if tokens <= limit else "length",
                    "token_ids": list(range(min(tokens, limit)))}
                   for i, (text, tokens) in enumerate(drawn)]
        used = sum(min(t, limit) for _, t in drawn)
        return JSONResponse({"id": "sim", "object": "chat.completion", "model": body["model"],
                             "choices": choices,
                             "usage": {"prompt_tokens": len(prompt.split()),
                                       "completion_tokens": used}})

    async def stats(request: Request) -> JSONResponse:
        if request.method == "POST":
            engine.reset()
        return JSONResponse(engine.stats())

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(engine.run())
        yield
        task.cancel()

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/stats", stats, methods=["GET"]),
                             Route("/stats/reset", stats, methods=["POST"]),
                             Route("/health", health)],
                     lifespan=lifespan)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8100)
    ap.add_argument("--slots", type=int, default=256)
    ap.add_argument("--step-ms", type=float, default=8.0)
    ap.add_argument("--per-seq-ms", type=float, default=0.1)
    args = ap.parse_args()
    engine = Engine(args.slots, args.step_ms, args.per_seq_ms)
    uvicorn.run(make_app(engine), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
