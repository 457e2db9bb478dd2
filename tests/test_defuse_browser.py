"""defuse against Streamlit's own Markdown (react-markdown with its directive and math
plugins) in Debian's Chromium: what markdown-it-py cannot see - a container directive whose
closing line cuts a code fence short - and a fence in a list item shown as typed."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from annotation_ui.defuse import defuse
from tests.conftest import ROOT, free_port
from tests.test_annotation_browser import ARGS, CHROMIUM, streamlit_up

APP = """import json, sys
import streamlit as st
from annotation_ui.defuse import defuse
for i, text in enumerate(json.load(open(sys.argv[1]))):
    with st.container(key=f"case{i}"):
        st.markdown(defuse(text))
"""
DIRECTIVE = ":::note\n```\n:::\n# Session expired\n```"
LIST_FENCE = "- item\n\n    ```\n    # not a heading\n    $x$\n    ```"


@pytest.fixture
def shown(tmp_path: Path):
    """The HTML Streamlit shows for each text, defused."""
    def show(texts: list[str]) -> list[str]:
        (tmp_path / "app.py").write_text(APP)
        (tmp_path / "texts.json").write_text(json.dumps(texts))
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(tmp_path / "app.py"),
             "--server.headless", "true", "--server.port", str(port),
             "--browser.gatherUsageStats", "false", "--", str(tmp_path / "texts.json")],
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            assert streamlit_up(url), "streamlit did not start"
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page()
                page.goto(url)
                page.wait_for_selector(f".st-key-case{len(texts) - 1} pre", timeout=30_000)
                html = [page.inner_html(f".st-key-case{i}") for i in range(len(texts))]
                browser.close()
            return html
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(20)
    return show


def test_streamlit_shows_no_heading_and_the_listed_code_as_typed(shown) -> None:
    directive, listed = shown([DIRECTIVE, LIST_FENCE])
    assert not re.search(r"<h[1-6]", directive)
    assert "# Session expired" in directive  # inside the code block, as text
    assert "# not a heading" in listed and "$x$" in listed and "\\$" not in listed
    assert ":::" not in defuse(DIRECTIVE)
