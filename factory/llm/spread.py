"""Several model servers as one: each request goes to the server with the fewest requests in
flight (ties in turn), and a request whose server is down (its retries spent) is sent to the
next. Servers behind one load-balancing URL need none of this; a list in the settings does."""

from __future__ import annotations

from collections.abc import Sequence

from factory.llm.base import LLM, ChatResult, LLMUnavailable, SamplingParams


class SpreadLLM:
    def __init__(self, servers: Sequence[LLM]) -> None:
        if not servers:
            raise ValueError("no model server given")
        self.servers = list(servers)
        self.in_flight = [0] * len(servers)
        self.sent = [0] * len(servers)
        self._turn = 0

    def _order(self) -> list[int]:
        n = len(self.servers)
        self._turn = (self._turn + 1) % n
        rotated = [(self._turn + i) % n for i in range(n)]
        return sorted(rotated, key=lambda i: self.in_flight[i])

    async def chat(self, messages: list[dict[str, str]], params: SamplingParams) -> ChatResult:
        failures = []
        for i in self._order():
            self.in_flight[i] += 1
            self.sent[i] += 1
            try:
                return await self.servers[i].chat(messages, params)
            except LLMUnavailable as exc:
                failures.append(str(exc))
            finally:
                self.in_flight[i] -= 1
        raise LLMUnavailable("every model server failed: " + "; ".join(failures))

    async def aclose(self) -> None:
        for server in self.servers:
            await server.aclose()
