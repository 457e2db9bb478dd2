"""Model output on screen: Markdown, never HTML. Streamlit escapes HTML tags in Markdown by
default; images are defused too, so a response cannot make the browser fetch a URL."""

from __future__ import annotations

import re

import streamlit as st

_IMAGE = re.compile(r"!\[")


def show_untrusted(text: str) -> None:
    st.markdown(_IMAGE.sub(r"!\\[", text), unsafe_allow_html=False)
