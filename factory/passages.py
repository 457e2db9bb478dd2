"""Long texts into passages: at paragraph and scene boundaries, inside a window of tokens.

Splitting streams lines, so a whole book is never held in memory; it is deterministic, never
cuts inside a word, keeps a paragraph's own line breaks (verse stays verse), and copes with CRLF,
a byte-order mark, and files with no blank lines at all (long paragraphs are then cut at line,
sentence or word boundaries). Project Gutenberg files lose their header and licence; their
title and author are kept with each passage.

Tokens are counted as words and punctuation marks, which is close to what BPE tokenizers give
for English prose and needs no model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_SCENE = re.compile(r"^\s*((CHAPTER|BOOK|PART|ACT|SCENE)\b.*|(\*\s*){3,}|#+\s.*)$",
                    re.IGNORECASE)
_GUTENBERG_START = re.compile(r"^\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
_GUTENBERG_END = re.compile(r"^\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
T = TypeVar("T")
_HEADER_FIELD = re.compile(r"^(Title|Author):\s*(.+)$")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


@dataclass(frozen=True)
class Window:
    min_tokens: int = 64
    max_tokens: int = 512

    def __post_init__(self) -> None:
        if not 0 < self.min_tokens <= self.max_tokens:
            raise ValueError(f"passage window needs 0 < min ({self.min_tokens}) <= max "
                             f"({self.max_tokens})")


@dataclass
class Passage:
    text: str
    index: int
    first_line: int
    last_line: int


@dataclass
class _Open:
    lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)
    tokens: int = 0


def gutenberg_bounds(lines: Iterable[str]) -> tuple[int, int | None, dict[str, str]]:
    """(first body line, line of the END marker or None, header fields) of a Gutenberg file;
    (1, None, {}) for any other text. Reads the lines once, keeping nothing but the answer."""
    start, end, header = 1, None, {}
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if end is None and start == 1 and (m := _HEADER_FIELD.match(text)):
            header[m[1].lower()] = m[2].strip()
        if start == 1 and _GUTENBERG_START.match(text):
            start = n + 1
        elif _GUTENBERG_END.match(text):
            end = n
            break
    return start, end, header


def split(lines: Iterable[str], window: Window, first_line: int = 1,
          last_line: int | None = None) -> Iterator[Passage]:
    """Passages of the numbered ``lines`` from ``first_line`` up to (not including)
    ``last_line``. A piece shorter than the window's minimum left at a scene break (a chapter's
    tail) joins the passage before it when that fits; otherwise (a title page, a table of
    contents) it is dropped."""
    builder = _Builder(window)
    paragraph: list[tuple[int, str]] = []
    for n, raw in enumerate(lines, 1):
        if n < first_line:
            continue
        if last_line is not None and n >= last_line:
            break
        text = raw.rstrip("\r\n").rstrip().lstrip("\ufeff")
        if not text.strip() or _SCENE.match(text):
            yield from builder.add(paragraph)
            paragraph = []
        if _SCENE.match(text):
            yield from builder.scene_break()
        if text.strip():
            paragraph.append((n, text))
    yield from builder.add(paragraph)
    yield from builder.scene_break()
    yield from builder.finish()


class _Builder:
    """Paragraphs in, passages out, holding back one finished passage so a short tail can
    still join it."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.open = _Open()
        self.held: _Open | None = None
        self.index = 0

    def add(self, paragraph: list[tuple[int, str]]) -> Iterator[Passage]:
        for piece, tokens in _fit(paragraph, self.window.max_tokens):
            if self.open.tokens + tokens > self.window.max_tokens:
                yield from self._close()
            if self.open.lines:
                self.open.lines.append((piece[0][0], ""))  # the blank line between paragraphs
            self.open.lines.extend(piece)
            self.open.tokens += tokens

    def scene_break(self) -> Iterator[Passage]:
        yield from self._close()
        self.open = _Open()

    def finish(self) -> Iterator[Passage]:
        if self.held is not None:
            yield self._emit(self.held)
            self.held = None

    def _close(self) -> Iterator[Passage]:
        """End the open passage: keep it if long enough, else let the held one absorb it."""
        current, self.open = self.open, _Open()
        if not current.lines:
            return
        if current.tokens >= self.window.min_tokens:
            yield from self.finish()
            self.held = current
        elif self.held is not None and \
                self.held.tokens + current.tokens <= self.window.max_tokens:
            self.held.lines += [(current.lines[0][0], ""), *current.lines]
            self.held.tokens += current.tokens

    def _emit(self, done: _Open) -> Passage:
        lines = done.lines
        passage = Passage(text="\n".join(t for _, t in lines), index=self.index,
                          first_line=lines[0][0], last_line=lines[-1][0])
        self.index += 1
        return passage


def _pack(items: Iterable[tuple[T, int]], limit: int) -> Iterator[tuple[list[T], int]]:
    """Consecutive (item, tokens) grouped greedily into runs of at most ``limit`` tokens (an
    item over the limit runs alone), each with its total."""
    run: list[T] = []
    total = 0
    for item, tokens in items:
        if run and total + tokens > limit:
            yield run, total
            run, total = [], 0
        run.append(item)
        total += tokens
    if run:
        yield run, total


def _fit(paragraph: list[tuple[int, str]], limit: int
         ) -> Iterator[tuple[list[tuple[int, str]], int]]:
    """A paragraph in pieces of at most ``limit`` tokens: whole lines where they fit, else a
    long line cut after sentences, else between words."""
    return _pack((((n, part), count_tokens(part)) for n, line in paragraph
                  for part in _cut_line(line, limit)), limit)


def _cut_line(line: str, limit: int) -> Iterator[str]:
    if count_tokens(line) <= limit:
        yield line
        return
    for run, _ in _pack(((u, count_tokens(u)) for u in _units(line, limit)), limit):
        yield " ".join(run)


def _units(line: str, limit: int) -> Iterator[str]:
    """Sentences of a line, and the words of any sentence longer than ``limit`` tokens."""
    for sentence in _SENTENCE_END.split(line.strip()):
        if count_tokens(sentence) <= limit:
            yield sentence
        else:
            yield from sentence.split()
