"""Async client for OpenAI-compatible servers (vLLM), built to keep the server saturated.

Many requests in flight under one semaphore, ``n`` samples per request so the prompt is
prefilled once, retries with exponential backoff and full jitter on connection errors, 429 and
5xx, and an :class:`LLMUnavailable` once retries are spent - never a hang.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from factory.llm.base import (
    ChatResult,
    Completion,
    LLMRefused,
    LLMResponseError,
    LLMUnavailable,
    SamplingParams,
)

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
# Wrong key, model or URL: no prompt can succeed, so the step fails (with the reason) rather
# than every prompt being set aside as if each had been refused on its own.
CONFIG_STATUS = {401, 403, 404}


class OpenAIClient:
    def __init__(self, base_url: str, model: str, api_key: str = "EMPTY", *,
                 concurrency: int = 256, timeout_s: float = 300.0, max_retries: int = 5,
                 retry_base_s: float = 0.5) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_retries = max_retries
        self.retry_base_s = retry_base_s
        self._sem = asyncio.Semaphore(concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _body(self, messages: list[dict[str, str]], p: SamplingParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model, "messages": messages, "n": p.n, "temperature": p.temperature,
            "top_p": p.top_p, "max_tokens": p.max_tokens, "return_token_ids": True,
        }
        if p.stop:
            body["stop"] = p.stop
        if p.seed is not None:
            body["seed"] = p.seed
        if p.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": p.json_schema, "strict": True},
            }
        return body

    async def _post(self, body: dict[str, Any], path: str = "/chat/completions"
                    ) -> dict[str, Any]:
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = self.retry_base_s * 2 ** (attempt - 1)
                await asyncio.sleep(random.uniform(0, delay) + delay / 2)
            try:
                resp = await self._http.post(path, json=body)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc or 'connection failed'}"
                continue
            if resp.status_code in RETRY_STATUS:
                last = f"HTTP {resp.status_code}: {resp.text[:300]}"
                continue
            if resp.status_code in CONFIG_STATUS:
                raise LLMUnavailable(
                    f"{self.base_url} refused the request: HTTP {resp.status_code}: "
                    f"{resp.text[:300]} (check the model name, API key and URL)")
            if resp.status_code >= 400:
                raise LLMRefused(
                    f"{self.base_url} refused the request: HTTP {resp.status_code}: "
                    f"{resp.text[:500]}")
            try:
                return resp.json()
            except ValueError as exc:
                raise LLMResponseError(f"{self.base_url} answered with non-JSON: "
                                       f"{resp.text[:200]!r}") from exc
        raise LLMUnavailable(f"model server {self.base_url} failed {self.max_retries + 1} "
                             f"attempts; last error: {last}")

    async def chat(self, messages: list[dict[str, str]], params: SamplingParams) -> ChatResult:
        body = self._body(messages, params)
        async with self._sem:
            start = time.perf_counter()
            data = await self._post(body)
            latency = time.perf_counter() - start
        return _parse(data, params.n, self.model, latency)


def _parse(data: dict[str, Any], n: int, model: str, latency: float) -> ChatResult:
    try:
        choices = sorted(data["choices"], key=lambda c: c["index"])
        samples = []
        for c in choices:
            text = c["message"]["content"]
            if not isinstance(text, str):
                raise TypeError(f"choice {c['index']} content is {type(text).__name__}")
            ids = c.get("token_ids")
            samples.append(Completion(
                index=c["index"], text=text, finish_reason=c.get("finish_reason"),
                completion_tokens=len(ids) if isinstance(ids, list) else None))
        usage = data.get("usage") or {}
    except (KeyError, TypeError) as exc:
        raise LLMResponseError(f"malformed completion response: {exc!r}") from exc
    if len(samples) != n:
        raise LLMResponseError(f"asked for {n} samples, server returned {len(samples)}")
    if n == 1 and samples[0].completion_tokens is None:
        samples[0].completion_tokens = usage.get("completion_tokens")
    return ChatResult(model=data.get("model", model), samples=samples,
                      prompt_tokens=usage.get("prompt_tokens"),
                      completion_tokens=usage.get("completion_tokens"), latency_s=latency)
