"""Model text made safe to hand to Streamlit's Markdown: it may format, never pose as the app.

Streamlit escapes HTML already; what is left is Markdown that looks like the app or leads away
from it. ``defuse`` is a pure function of the text:

- Streamlit's directives do nothing: colours and backgrounds (``:red[...]``), badges
  (``:blue-badge[...]``), material icons (``:material/lock:``), emoji shortcodes (``:smile:``);
  a word joiner (U+2060, invisible) after the colon breaks each of them. The joiner is used
  everywhere, code included, where it is invisible too, so no guess about where code starts
  and ends can let a construct through.
- Links show their target and cannot be followed: ``](``, ``][`` and ``]:`` are broken the
  same way, so no inline, reference-style or image link and no link definition exists (the
  target shows as typed, entity-encoded or not); autolinks (``<https://...>``, ``<a@b.c>``) and
  bare ``http://``, ``https://``, ``www.`` and e-mail addresses (GitHub's autolinks) too.
- Headings are demoted to the smallest level (``######``; also inside quotes and lists); a
  setext underline (``===``, ``---`` under a line) becomes literal text. Fenced code is left
  as it is (a ``#`` there is a comment).
- Math (``$\\Huge ...$``) is text: ``$`` is escaped outside code spans.
- Container directives (``:::name`` ... ``:::``; Streamlit's Markdown parses them, and their
  closing line ends any code fence inside them) do not exist: a joiner goes between colons.
- Bidirectional controls (an RTL override can show "gpj.exe" as "exe.jpg") become a visible
  marker such as ``‹U+202E›``.

Which lines are fenced code is CommonMark's answer (markdown-it-py, tables on as in GFM), so a
fence inside a list item or a block quote, indented 4 or more, is code too. Only the two cases
every CommonMark renderer agrees on count: a fence closed by its own closing line, and one at
the top level left open (code to the end of the text). A fence left open inside a quote or a
list item ends with its container, and where a container ends is where renderers could differ
(footnotes, directives, lazy lines), so its lines are defused like text. Hostile text gains
nothing from a fake fence: a line is left alone only if it is code once defused too (the
result is parsed again; if it is not, no line is left alone), links, directives and bidi
controls are broken in code as well, and a fence that is not one is defused.
"""

from __future__ import annotations

import re
from functools import cache

from markdown_it import MarkdownIt

WJ = "\u2060"  # word joiner: invisible, breaks a Markdown construct in two

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI}]")
# a directive or shortcode: ':' + a name + '[' (text), '{' (attributes), ':' (emoji) or '/'
_DIRECTIVE = re.compile(r":(?=[\w+-]+[\[{:/])")
_LINK = re.compile(r"\](?=[(\[:])")
_AUTOLINK = re.compile(r"<(?=[A-Za-z][A-Za-z0-9+.-]{1,31}:|[^\s<>@]+@)")
_WWW = re.compile(r"(?i)(?<![\w])(www)(?=\.)")
_EMAIL = re.compile(r"(?<=[\w.+-])(?=@[\w-]+\.)")
_COLONS = re.compile(r":(?=::)")  # a run of three colons: a container directive's fence
# container markers a heading may sit behind: quotes, bullets, numbered items
_CONTAINER = r"(?:[ \t]*(?:>|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t])))*[ \t]*"
_ATX = re.compile(rf"^({_CONTAINER})#{{1,6}}(?=[ \t]|$)")
_SETEXT = re.compile(rf"^({_CONTAINER})(?=[=-]+[ \t]*$)")
_TICKS = re.compile(r"`+")


def _marker(match: re.Match[str]) -> str:
    return f"\u2039U+{ord(match.group()):04X}\u203a"


def _inline(line: str) -> str:
    """Breaks that are invisible wherever they land, code included."""
    line = _DIRECTIVE.sub(":" + WJ, line)
    line = _LINK.sub("]" + WJ, line)
    line = _AUTOLINK.sub("<" + WJ, line)
    line = re.sub(r"(?i)(https?:)(?=//)", r"\1" + WJ, line)
    line = _WWW.sub(r"\1" + WJ, line)
    line = _COLONS.sub(":" + WJ, line)
    return _EMAIL.sub(WJ, line)


def _escaped(line: str, at: int) -> bool:
    """Whether the character at ``at`` is backslash-escaped."""
    n = 0
    while at - n - 1 >= 0 and line[at - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def _no_math(line: str) -> str:
    """``$`` escaped outside the code spans of this line (a backslash would show inside)."""
    out, i = [], 0
    while i < len(line):
        char = line[i]
        if char == "`" and not _escaped(line, i):
            run = _TICKS.match(line, i).group()
            close = next((m for m in _TICKS.finditer(line, i + len(run))
                          if len(m.group()) == len(run)), None)
            end = close.end() if close else i + len(run)
            out.append(line[i:end])
            i = end
            continue
        out.append("\\$" if char == "$" and not _escaped(line, i) else char)
        i += 1
    return "".join(out)


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def _fenced(text: str) -> set[int]:
    """The lines (0-based) of fenced code, opening and closing lines included: fences closed
    by their own closing line, and a top-level fence left open (to the end of the text)."""
    lines: set[int] = set()
    for token in _parser().parse(text):
        if token.type != "fence" or token.map is None:
            continue
        start, end = token.map
        closed = end - start == token.content.count("\n") + 2
        if closed or token.level == 0:
            lines.update(range(start, end))
    return lines


def _defuse_lines(lines: list[str], code: set[int]) -> str:
    out: list[str] = []
    after_text = False  # the line before could make this one a setext underline
    for i, line in enumerate(lines):
        if i in code:
            out.append(_inline(line))
            after_text = False
            continue
        if after_text:
            line = _SETEXT.sub(r"\1\\", line)
        line = _ATX.sub(r"\1######", line)
        out.append(_inline(_no_math(line)))
        after_text = bool(line.strip())
    return "\n".join(out)


def defuse(text: str) -> str:
    """``text`` as Markdown that cannot pose as the app: see the module's docstring."""
    text = _BIDI.sub(_marker, text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")
    code = _fenced(text)
    out = _defuse_lines(lines, code)
    if code and not code <= _fenced(out):
        out = _defuse_lines(lines, set())  # an edit moved a fence: nothing is left alone
    return out
