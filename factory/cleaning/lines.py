"""The texts of a JSONL training line, whichever shape it has."""

from __future__ import annotations

from typing import Any


def _contents(value: Any, field: str) -> list[str]:
    """A string, or a list of messages ({"role", "content"}) as their contents."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        texts = []
        for i, msg in enumerate(value):
            content = msg.get("content") if isinstance(msg, dict) else None
            if not isinstance(content, str):
                raise ValueError(f"field {field!r}: message {i} has no string 'content'")
            texts.append(content)
        return texts
    raise ValueError(f"field {field!r} is neither a string nor a list of messages")


def texts_of(record: Any) -> list[str]:
    """The texts of a line: ``text``; or the contents of ``messages``; or of ``prompt``,
    ``chosen`` and ``rejected`` (each a string or a list of messages). A line with none of
    these, or a malformed one, is a ValueError saying what is wrong."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if "text" in record:
        return _contents(record["text"], "text")
    if "messages" in record:
        return _contents(record["messages"], "messages")
    fields = [f for f in ("prompt", "chosen", "rejected") if f in record]
    if not fields:
        raise ValueError("no 'text', 'messages' or 'prompt'/'chosen'/'rejected' field")
    return [t for f in fields for t in _contents(record[f], f)]
