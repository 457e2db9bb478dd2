"""Pick the model behind the configured URL: ``scripted://NAME``, an OpenAI-compatible server,
or several of them separated by commas (requests spread over them, see ``spread``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from factory.config import Settings
from factory.llm.base import LLM
from factory.llm.openai_client import OpenAIClient
from factory.llm.scripted import ScriptedLLM
from factory.llm.spread import SpreadLLM


def server_urls(url: str) -> list[str]:
    """The servers a URL setting lists: one, or several separated by commas."""
    return [u.strip() for u in url.split(",") if u.strip()]


def client_options(settings: Settings) -> dict[str, Any]:
    """What every HTTP model client (generator or reward server) takes from the settings, so
    the two cannot drift apart."""
    return {"api_key": settings.llm_api_key.get_secret_value(),
            "concurrency": settings.llm_concurrency, "timeout_s": settings.llm_timeout_s,
            "max_retries": settings.llm_max_retries, "retry_base_s": settings.llm_retry_base_s}


def connect(settings: Settings) -> LLM:
    url = settings.llm_base_url
    if url.startswith("scripted://"):
        parsed = urlsplit(url)
        query = parse_qs(parsed.query)
        delay = float(query.get("delay", ["0"])[0])
        context = int(query["context"][0]) if "context" in query else None
        return ScriptedLLM.named(parsed.netloc, delay_s=delay, context_words=context)
    options = client_options(settings)
    servers = [OpenAIClient(u, settings.llm_model, **options) for u in server_urls(url)]
    return servers[0] if len(servers) == 1 else SpreadLLM(servers)
