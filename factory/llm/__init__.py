"""The model layer: one async interface, a real OpenAI-compatible client, a scripted stand-in."""

from factory.llm.base import (
    LLM,
    ChatResult,
    Completion,
    LLMError,
    LLMRefused,
    LLMResponseError,
    LLMUnavailable,
    SamplingParams,
    request_seed,
)
from factory.llm.connect import connect

__all__ = [
    "LLM", "ChatResult", "LLMError", "LLMRefused", "LLMResponseError", "LLMUnavailable",
    "Completion", "SamplingParams", "connect", "request_seed",
]
