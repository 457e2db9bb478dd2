"""defuse: model text cannot pose as the app. A CommonMark renderer (markdown-it-py, HTML
escaped as Streamlit does) is the oracle for links, images and headings; Streamlit's own
syntax (directives, GitHub autolinks, math) is checked on the text."""

import re

import pytest
from markdown_it import MarkdownIt

from annotation_ui.defuse import BIDI, WJ, defuse

RENDER = MarkdownIt("commonmark", {"html": False}).enable("table")

HOSTILE_LINKS = [
    "[Log in again](https://evil.example/login)",
    "![tracker](https://evil.example/pixel.png)",
    "[![badge](https://evil.example/b.png)](https://evil.example)",
    "[click](&#104;ttps://evil.example) [js](&#106;avascript:alert(1))",
    "&#33;[img](https://evil.example/i.png)",
    "[click][ref] and [ref] and [ref][]\n\n[ref]: https://evil.example \"title\"",
    "![img][pic]\n\n[pic]: https://evil.example/p.png",
    "> [quoted][q]\n>\n> [q]: https://evil.example",
    "- [in a list](https://evil.example)\n- [r]\n\n  [r]: https://evil.example",
    "<https://evil.example> <javascript:alert(1)> <mailto:a@b.example> <me@evil.example>",
    "[text](<https://evil.example/a b>) [t](https://evil.example 'title')",
    "footnote[^1]\n\n[^1]: https://evil.example",
    "[nested [brackets]](https://evil.example)",
    "| a | b |\n|---|---|\n| [x](https://evil.example) | ![y](https://e.example/y.png) |",
]


def rendered(text: str) -> str:
    return RENDER.render(defuse(text))


@pytest.mark.parametrize("text", HOSTILE_LINKS)
def test_no_link_or_image_survives_and_the_target_shows(text: str) -> None:
    html = rendered(text)
    assert "<a " not in html and "<img" not in html, html
    visible = html.replace(WJ, "")
    for target in re.findall(r"https://[\w./-]+", text):
        assert target in visible  # shown as typed, to be read, not followed


@pytest.mark.parametrize("text", ["See http://evil.example now", "HTTPS://EVIL.EXAMPLE",
                                  "go to www.evil.example", "write to me@evil.example"])
def test_bare_addresses_are_not_autolinked(text: str) -> None:
    out = defuse(text)
    assert out.replace(WJ, "") == text
    assert not re.search(r"(?i)https?://|\bwww\.|\w@\w", out)  # GitHub's autolink triggers


@pytest.mark.parametrize("text", [
    ":red[Session expired, log in again]", ":blue-badge[Submit]", ":green-background[OK]",
    ":material/lock: Secure", ":smile: :+1:", ":rainbow[wow]", "::leaf[x]", ":small[fine print]",
    ":red[**bold** inside]", "`:red[in code]`", ":orange-badge[:material/warning: Alert]",
])
def test_streamlit_directives_do_nothing_and_read_the_same(text: str) -> None:
    out = defuse(text)
    assert out.replace(WJ, "") == text
    assert not re.search(r":[\w+-]+[\[{:/]", out)  # no colon directly before a name


@pytest.mark.parametrize("text", [
    "# Session expired", "## Log in", "###### small already", "  ### indented",
    "> # in a quote", "- # in a list", "1. ## numbered", "Title\n=====", "Sub\n---",
    "> Quoted\n> ===", "#\tTab heading",
])
def test_no_heading_is_larger_than_the_smallest(text: str) -> None:
    html = rendered(text)
    assert not re.search(r"<h[1-5]", html), html


def test_setext_underlines_stay_as_text_and_a_rule_stays_a_rule() -> None:
    assert rendered("Title\n===") == "<p>Title\n===</p>\n"
    assert "<hr" in rendered("Paragraph\n\n---")


def test_fenced_code_keeps_its_comments_and_dollars() -> None:
    code = "```python\n# a comment\nprint(\"$HOME\")\n```\n~~~\n## not a heading\n~~~"
    assert defuse(code) == code
    assert "<h" not in rendered(code)


def test_math_is_text_outside_code_spans() -> None:
    assert defuse("costs $5, or $\\Huge{BIG}$") == "costs \\$5, or \\$\\Huge{BIG}\\$"
    assert defuse("`echo $HOME` costs $5") == "`echo $HOME` costs \\$5"
    assert defuse("already \\$5") == "already \\$5"
    # a backtick escaped is no code span: the dollars after it are escaped
    assert defuse("\\`$x$`") == "\\`\\$x\\$`"


def test_bidirectional_controls_are_made_visible() -> None:
    out = defuse("invoice\u202egpj.exe and \u2066isolate\u2069 \u200f")
    assert out == ("invoice\u2039U+202E\u203agpj.exe and \u2039U+2066\u203aisolate"
                   "\u2039U+2069\u203a \u2039U+200F\u203a")


def test_ordinary_text_is_unchanged() -> None:
    text = ("The answer is 42.\n\n- one\n- two\n\n**bold**, *italic*, `code`, a > b, "
            "10:30, std::vector<int>, C:\\path, 3 < 4 and [a note] in brackets.\n\n"
            "| x | y |\n|---|---|\n| 1 | 2 |")
    assert defuse(text) == text


def test_html_stays_text() -> None:
    assert defuse("<script>alert(1)</script> <b>bold</b>") == \
        "<script>alert(1)</script> <b>bold</b>"


@pytest.mark.parametrize("text", [
    "- item\n\n    ```\n    # not a heading\n    $x$\n    ```",
    "1. step\n\n   ```bash\n   # a comment\n   echo $HOME\n   ```\n2. next",
    "> ```python\n> # a comment\n> print(\"$5\")\n> ```",
    "- a list\n\n  > quoted\n  >\n  > ~~~\n  > ## not a heading\n  > ~~~",
])
def test_fenced_code_inside_lists_and_quotes_is_left_alone(text: str) -> None:
    assert defuse(text) == text
    assert "<h" not in rendered(text)


def code_lines(markdown: str) -> set[int]:
    """Lines the oracle renders as code (fenced or indented, closed or not)."""
    return {i for t in RENDER.parse(markdown) if t.type in ("fence", "code_block") and t.map
            for i in range(*t.map)}


# A fake, unclosed or mismatched fence must not carry a heading, math, a link, a directive or
# a bidi control out of defusing: whatever the oracle does not render as code is defused.
SMUGGLERS = [
    "- item\n\n    ```\n    # inside\n# Log in again $\\Huge x$\n[x](https://evil.example)",
    "> ```\n# Session expired $x$\n> ```",
    "> ```\n> code\n# Session expired\n> ```",
    "- a\n\n    ```\n# Session expired\n    ```",
    "````\n# code\n```\n# still code\n````\n# Session expired $x$",
    "~~~\n# code\n```\n# code\n~~~\n# Session expired",
    "``` `not a fence`\n# Session expired $x$\n```",
    "    ```\n# Session expired\n    ```",
    "```\n# code\n``\n# still code, open to the end",
    "- x\n\n    ```\n    \u202egpj.exe [a](https://evil.example) :red[alert]\n",
    ":::note\n```\n:::\n# Session expired\n```",
    "> - a\n>\n>   ```\n# Session expired\n>   ```\n$x$",
    "<div>\n```\n</div>\n# Session expired\n```",
]


@pytest.mark.parametrize("text", SMUGGLERS)
def test_a_fake_or_unclosed_fence_smuggles_nothing(text: str) -> None:
    out = defuse(text)
    html = RENDER.render(out)
    assert not re.search(r"<h[1-5]|<a |<img", html), html
    assert not re.search(f"[{re.escape(BIDI)}]", out)
    assert ":::" not in out and not re.search(r":[\w+-]+[\[{:/]", out)
    code = code_lines(out)
    for i, line in enumerate(out.split("\n")):
        if i not in code:
            assert not re.search(r"(?<!\\)\$", line), (i, line)


def test_container_directives_do_not_open_and_read_the_same() -> None:
    text = ":::warning\nPay now\n:::"
    out = defuse(text)
    assert ":::" not in out and out.replace(WJ, "") == text


def test_when_a_reparse_disagrees_nothing_is_left_alone(monkeypatch) -> None:
    from annotation_ui import defuse as module

    text = "```\n# comment $x$\n```"
    answers = iter([{0, 1, 2}, set()])  # code before defusing, none after
    monkeypatch.setattr(module, "_fenced", lambda _: next(answers))
    assert defuse(text) == "```\n###### comment \\$x\\$\n```"
