"""What strategies and the job machinery see of a model: chat in, n samples out."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from pydantic import BaseModel, Field


class SamplingParams(BaseModel):
    """Recorded verbatim on every generation row, so each sample can be reproduced."""

    n: int = Field(1, ge=1)
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(512, ge=1)
    stop: list[str] | None = None
    seed: int | None = None
    json_schema: dict[str, Any] | None = None

    def recorded(self) -> dict[str, Any]:
        """The parameters as stored: everything but n and seed, which have their own columns."""
        return self.model_dump(exclude={"n", "seed"}, exclude_none=True)


class Completion(BaseModel):
    """One of the ``n`` samples a chat request returns, as the server sent it."""

    index: int
    text: str
    finish_reason: str | None
    completion_tokens: int | None


class ChatResult(BaseModel):
    model: str
    samples: list[Completion]
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float


class LLMError(RuntimeError):
    """Base class of model-layer failures."""


class LLMUnavailable(LLMError):
    """The server stayed unreachable or kept failing after every retry."""


class LLMResponseError(LLMError):
    """The server answered, but not with something usable (a bad request or a garbled body)."""


class LLMRefused(LLMResponseError):
    """The server refused this one request (HTTP 4xx, say longer than its context): others
    may well succeed, unlike a garbled answer, which says the server itself is wrong."""


class LLM(Protocol):
    model: str

    async def chat(self, messages: list[dict[str, str]], params: SamplingParams) -> ChatResult: ...

    async def aclose(self) -> None: ...


def request_seed(base: int, messages: list[dict[str, str]], key: str, round: int) -> int:
    """A per-request seed from the prompt's content, so any re-run, in any store, asks for the
    same samples. ``key`` tells apart requests with the same messages (the stages pass the
    prompt's key and the ask's name, the judge "judge"); ``round``: the batch's sampling round.
    The values hashed are a stored contract: renaming what feeds them must not change them."""
    blob = json.dumps([base, messages, key, round], sort_keys=True).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=4).digest(), "big") & 0x7FFFFFFF
