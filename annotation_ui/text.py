"""Model output on screen: Markdown, never HTML, defused (annotation_ui.defuse) so it cannot
pose as the app, each text in a box of bounded height that scrolls."""

from __future__ import annotations

from contextlib import AbstractContextManager

import streamlit as st

from annotation_ui.defuse import defuse

BOX_HEIGHT = 420  # px: a long response scrolls inside its box, the buttons stay in reach
BOX_KEY = "untrusted"
# the app's own style (no model text in it): headings in a box no larger than body text,
# KaTeX colours neutral, in case a construct slipped past defuse
_STYLE = f"""<style>
[class*="st-key-{BOX_KEY}"] :is(h1, h2, h3, h4, h5, h6) {{
  font-size: 1rem !important; font-weight: 600 !important; }}
[class*="st-key-{BOX_KEY}"] .katex * {{ color: inherit !important; }}
</style>"""


def untrusted_box(name: str, height: int | None = BOX_HEIGHT) -> AbstractContextManager:
    """A bordered box for model text, scrolling past ``height`` px (None: as tall as the
    text, for a short one)."""
    st.html(_STYLE)
    return st.container(height=height or "content", border=True, key=f"{BOX_KEY}-{name}")


def show_untrusted(text: str) -> None:
    st.markdown(defuse(text), unsafe_allow_html=False)
