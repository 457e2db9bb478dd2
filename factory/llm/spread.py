"""Several model servers as one: each request goes to the server with the fewest requests in
flight (ties in turn), and a request whose server is down (its retries spent) is sent to the
next. Servers behind one load-balancing URL need none of this; a list in the settings does.

A server that failed is skipped for a cool-down (its circuit breaker is open), so a dead one
costs one request its retries, not every request; after the cool-down one probe request is let
through, and its failure doubles the cool-down (capped). ``connect()`` builds a SpreadLLM per
step, so the breakers live in a process-wide registry keyed by the server's URL. Reward servers
(``factory.llm.reward_client``) are spread the same way."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from factory.llm.base import LLM, ChatResult, LLMError, LLMUnavailable, SamplingParams

COOLDOWN_S = 10.0
MAX_COOLDOWN_S = 120.0


@dataclass
class _State:
    failures: int = 0  # consecutive; 0 means closed
    open_until: float = 0.0
    probing: bool = False  # a half-open probe is in flight: others keep skipping the server
    owner: weakref.ref[Any] | None = None  # for id keys: a reused id must not inherit state


class Breaker:
    """Circuit breakers for model servers, one per server key, safe to share across threads
    and event loops (workers may run steps in threads)."""

    def __init__(self, cooldown_s: float = COOLDOWN_S, max_cooldown_s: float = MAX_COOLDOWN_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self.clock = clock
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def key(self, server: object) -> str:
        """The server's URL; test doubles without one are told apart by identity."""
        url = getattr(server, "base_url", None)
        if isinstance(url, str) and url:
            return url
        key = f"{type(server).__name__}@{id(server):x}"
        with self._lock:
            state = self._states.get(key)
            if state is None or state.owner is None or state.owner() is not server:
                try:
                    owner: weakref.ref[Any] | None = weakref.ref(server)
                except TypeError:
                    owner = None
                self._states[key] = _State(owner=owner)
        return key

    def _state(self, key: str) -> _State:
        return self._states.setdefault(key, _State())

    def admit(self, key: str) -> Literal["closed", "probe"] | None:
        """Closed: go. Open: no (None). Cooled down: one probe at a time."""
        with self._lock:
            state = self._state(key)
            if state.failures == 0:
                return "closed"
            if state.probing or self.clock() < state.open_until:
                return None
            state.probing = True
            return "probe"

    def reopens_at(self, key: str) -> float:
        with self._lock:
            return self._state(key).open_until

    def succeeded(self, key: str) -> None:
        with self._lock:
            state = self._state(key)
            state.failures, state.open_until, state.probing = 0, 0.0, False

    def failed(self, key: str, probe: bool = False) -> None:
        """Open the breaker, longer each time; requests that were in flight together when the
        server died count as one failure, not one doubling each."""
        with self._lock:
            state = self._state(key)
            state.probing = state.probing and not probe
            now = self.clock()
            if now < state.open_until:
                return
            state.failures += 1
            cooldown = self.cooldown_s * 2 ** min(state.failures - 1, 30)
            state.open_until = now + min(self.max_cooldown_s, cooldown)

    def released(self, key: str) -> None:
        """A probe that ended without a verdict (cancelled): let the next request probe."""
        with self._lock:
            self._state(key).probing = False

    def describe(self, key: str) -> str:
        with self._lock:
            state = self._state(key)
            wait = max(0.0, state.open_until - self.clock())
            then = "a probe in flight" if state.probing else f"next probe in {wait:.0f} s"
            return f"{key} skipped: failed {state.failures} times, {then}"


BREAKERS = Breaker()


class Server(Protocol):
    async def aclose(self) -> None: ...


S = TypeVar("S", bound=Server)
T = TypeVar("T")


class Spread(Generic[S]):
    """Requests spread over ``servers`` (model or reward servers alike): :meth:`route` sends
    one request, given as what to do with the server chosen."""

    def __init__(self, servers: Sequence[S], breaker: Breaker | None = None) -> None:
        if not servers:
            raise ValueError("no model server given")
        self.servers = list(servers)
        self.model: str = getattr(self.servers[0], "model", "")
        self.breaker = breaker or BREAKERS
        self.keys = [self.breaker.key(s) for s in self.servers]
        self.in_flight = [0] * len(servers)
        self.sent = [0] * len(servers)
        self._turn = 0

    def _order(self) -> list[int]:
        n = len(self.servers)
        self._turn = (self._turn + 1) % n
        rotated = [(self._turn + i) % n for i in range(n)]
        return sorted(rotated, key=lambda i: self.in_flight[i])

    async def _call(self, i: int, request: Callable[[S], Awaitable[T]], probe: bool) -> T:
        key = self.keys[i]
        self.in_flight[i] += 1
        self.sent[i] += 1
        try:
            result = await request(self.servers[i])
        except LLMUnavailable:
            self.breaker.failed(key, probe)
            raise
        except LLMError:
            self.breaker.succeeded(key)  # an answer, even a refusal, is not a dead server
            raise
        except BaseException:
            if probe:
                self.breaker.released(key)
            raise
        finally:
            self.in_flight[i] -= 1
        self.breaker.succeeded(key)
        return result

    async def route(self, request: Callable[[S], Awaitable[T]]) -> T:
        failures: list[str] = []
        skipped: list[int] = []
        for i in self._order():
            admitted = self.breaker.admit(self.keys[i])
            if admitted is None:
                skipped.append(i)
                continue
            try:
                return await self._call(i, request, admitted == "probe")
            except LLMUnavailable as exc:
                failures.append(str(exc))
        if skipped:
            # Every breaker open is no reason to fail a job: try the one that reopens first.
            i = min(skipped, key=lambda j: self.breaker.reopens_at(self.keys[j]))
            failures += [self.breaker.describe(self.keys[j]) for j in skipped if j != i]
            try:
                return await self._call(i, request, probe=False)
            except LLMUnavailable as exc:
                failures.append(str(exc))
        raise LLMUnavailable("every model server failed: " + "; ".join(failures))

    async def aclose(self) -> None:
        for server in self.servers:
            await server.aclose()


class SpreadLLM(Spread[LLM]):
    async def chat(self, messages: list[dict[str, str]], params: SamplingParams) -> ChatResult:
        return await self.route(lambda server: server.chat(messages, params))
