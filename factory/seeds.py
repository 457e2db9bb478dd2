"""Seed files: validated with pydantic, streamed, stored in one transaction, deduplicated by hash.

Every kind normalises to one record shape, so strategies never see file-format quirks: GSM8K's
``#### 72``, MATH's ``\\boxed{...}`` and a plain ``answer`` field all become ``answer``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import SeedItem, SeedSet
from db.session import insert_ignore
from factory import passages
from factory.passages import Window

CHUNK = 1000


class SeedKind(StrEnum):
    math = "math"
    code = "code"
    text = "text"
    prompts = "prompts"
    profiles = "profiles"


class SeedFileError(ValueError):
    """A seed file that cannot be imported; the message names file, line and field."""


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` in ``text`` (balanced braces), if any."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    return None


class _Seed(BaseModel):
    # Whitespace is kept: it is significant in code and in literary text.
    model_config = ConfigDict(extra="allow")


class MathSeed(_Seed):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    problem: str = Field(min_length=1)
    answer: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "problem" not in data and "question" in data:
            data["problem"] = data.pop("question")
        answer = data.get("answer")
        if isinstance(answer, int | float) and not isinstance(answer, bool):
            data["answer"] = str(answer)
        elif isinstance(answer, str) and "####" in answer:  # GSM8K
            data["solution"], data["answer"] = (s.strip() for s in answer.rsplit("####", 1))
        elif answer is None and isinstance(data.get("solution"), str):  # MATH
            boxed = last_boxed(data["solution"])
            if boxed is not None:
                data["answer"] = boxed
        return data


class CodeSeed(_Seed):
    prompt: str = Field(min_length=1)
    test: str | None = None
    entry_point: str | None = None
    task_id: str | None = None

    @model_validator(mode="after")
    def _entry_point(self) -> CodeSeed:
        if not self.entry_point:
            found = re.search(r"^\s*def (\w+)\s*\(", self.prompt, re.MULTILINE)
            if found is None:
                raise ValueError("no entry_point given and the prompt defines no function")
            self.entry_point = found[1]
        return self


class TextSeed(_Seed):
    text: str = Field(min_length=1)
    title: str | None = None
    author: str | None = None
    position: dict[str, int] | None = None


def passage_source(seed: dict[str, Any]) -> dict[str, Any]:
    """Where a text seed's passage comes from, as carried into prompts and exported lines."""
    return {k: seed.get(k) for k in ("title", "author", "position")}


class ProfileSeed(_Seed):
    """A character to role-play: who they are, what they are like, how they talk."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=100)
    background: str = Field(min_length=1)
    traits: list[str] = Field(min_length=1)
    speaking_style: str = Field(min_length=1)


class PromptSeed(_Seed):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    prompt: str = Field(min_length=1)
    category: str | None = None


SCHEMAS: dict[SeedKind, type[_Seed]] = {
    SeedKind.math: MathSeed,
    SeedKind.code: CodeSeed,
    SeedKind.text: TextSeed,
    SeedKind.prompts: PromptSeed,
    SeedKind.profiles: ProfileSeed,
}


def _file_hash(path: Path, kind: SeedKind, window: Window) -> str:
    extra = f"{window.min_tokens}-{window.max_tokens}" if kind is SeedKind.text else ""
    digest = hashlib.sha256(kind.value.encode() + b"\0" + extra.encode() + b"\0")
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        yield from _decoded(path)
    except (gzip.BadGzipFile, EOFError) as exc:
        raise SeedFileError(f"{path}: not a valid gzip file ({exc})") from exc


def _decoded(path: Path) -> Iterator[tuple[int, str]]:
    with _open(path) as f:
        for line_no, raw in enumerate(f, 1):
            if b"\0" in raw:
                raise SeedFileError(f"{path}:{line_no}: binary data (NUL byte); not a text file")
            try:
                text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise SeedFileError(f"{path}:{line_no}: not UTF-8 text, a binary file? "
                                    f"({exc.reason})") from exc
            yield line_no, text


def _plain_text(path: Path, window: Window) -> Iterator[tuple[int, dict[str, Any]]]:
    """A plain-text file (a Project Gutenberg book, say) streamed as passages; two passes over
    the file, so memory does not grow with the book."""
    start, end, header = passages.gutenberg_bounds(line for _, line in _lines(path))
    about = {"title": header.get("title", path.name.split(".")[0]), "author": header.get("author")}
    for p in passages.split((line for _, line in _lines(path)), window, start, end):
        yield p.first_line, {"text": p.text, **about, "position": {
            "index": p.index, "first_line": p.first_line, "last_line": p.last_line}}


def _text_records(path: Path, window: Window) -> Iterator[tuple[int, dict[str, Any]]]:
    """A JSONL file of documents, each split into passages like a plain-text file."""
    for line_no, record in _jsonl(path):
        text = record.get("text")
        if not isinstance(text, str):
            yield line_no, record  # validation reports the problem
            continue
        for p in passages.split(text.splitlines(), window):
            yield line_no, {**record, "text": p.text, "position": {
                "document_line": line_no, "index": p.index, "first_line": p.first_line,
                "last_line": p.last_line}}


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_no, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SeedFileError(f"{path}:{line_no}: invalid JSON: {exc.msg} "
                                f"(column {exc.colno})") from exc
        if not isinstance(record, dict):
            raise SeedFileError(f"{path}:{line_no}: expected a JSON object, "
                                f"got {type(record).__name__}")
        yield line_no, record


def read_seeds(path: Path, kind: SeedKind, window: Window | None = None
               ) -> Iterator[tuple[int, dict[str, Any]]]:
    """Validated, normalised records with their line numbers; raises SeedFileError. Text is
    split into passages inside ``window`` (tokens)."""
    if not path.is_file():
        raise SeedFileError(f"{path}: no such file")
    schema = SCHEMAS[kind]
    window = window or Window()
    if kind is SeedKind.text:
        plain = ".jsonl" not in path.suffixes
        records = _plain_text(path, window) if plain else _text_records(path, window)
    else:
        records = _jsonl(path)
    for line_no, record in records:
        try:
            yield line_no, schema.model_validate(record).model_dump(exclude_none=True)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "(record)"
            raise SeedFileError(f"{path}:{line_no}: field '{field}': {err['msg']}") from exc


def import_seeds(session: Session, path: Path, kind: SeedKind, name: str | None = None,
                 window: Window | None = None) -> tuple[SeedSet, bool]:
    """Store a seed file as a seed set; returns (set, created). Caller owns the transaction,
    so a file that fails half-way leaves nothing behind."""
    window = window or Window()
    digest = _file_hash(path, kind, window) if path.is_file() else ""
    existing = session.scalar(select(SeedSet).where(SeedSet.content_hash == digest))
    if existing is not None:
        return existing, False
    seed_set = _store(session, name or path.stem, kind, str(path), digest,
                      read_seeds(path, kind, window))
    if seed_set.item_count == 0:
        if kind is SeedKind.text:
            raise SeedFileError(f"{path}: no passage of at least {window.min_tokens} tokens "
                                "(empty or too short)")
        raise SeedFileError(f"{path}: no seed items (empty file)")
    return seed_set, True


def derive_seed_set(session: Session, name: str, kind: SeedKind, source: str,
                    records: list[dict[str, Any]]) -> tuple[SeedSet, bool]:
    """A seed set made by the factory itself (a selection, evolved instructions), so any
    strategy can take it; records are validated like a file's, and the same records give the
    same set. Returns (set, created)."""
    digest = hashlib.sha256(kind.value.encode() + b"\0")
    valid = []
    for i, record in enumerate(records, 1):
        try:
            payload = SCHEMAS[kind].model_validate(record).model_dump(exclude_none=True)
        except ValidationError as exc:
            raise SeedFileError(f"{source}: record {i}: {exc.errors()[0]['msg']}") from exc
        digest.update(json.dumps(payload, sort_keys=True).encode() + b"\n")
        valid.append((i, payload))
    if not valid:
        raise SeedFileError(f"{source}: nothing to store (no records)")
    existing = session.scalar(select(SeedSet).where(SeedSet.content_hash == digest.hexdigest()))
    if existing is not None:
        return existing, False
    return _store(session, name, kind, source, digest.hexdigest(), iter(valid)), True


def _store(session: Session, name: str, kind: SeedKind, source: str, digest: str,
           records: Iterator[tuple[int, dict[str, Any]]]) -> SeedSet:
    seed_set = SeedSet(name=name, kind=kind.value, source=source, content_hash=digest)
    session.add(seed_set)
    session.flush()
    rows: list[dict[str, Any]] = []
    count = 0
    for line_no, payload in records:
        rows.append({"seed_set_id": seed_set.id, "ordinal": count, "line_no": line_no,
                     "payload": payload})
        count += 1
        if len(rows) >= CHUNK:
            insert_ignore(session, SeedItem, rows)
            rows = []
    insert_ignore(session, SeedItem, rows)
    seed_set.item_count = count
    return seed_set
