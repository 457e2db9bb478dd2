"""The choice buttons in a bar that stays in view: sticky at the bottom of the window while
the responses above it scroll, in a row that wraps on a narrow (phone) screen, so a choice
never needs a scroll past the responses."""

from __future__ import annotations

from contextlib import AbstractContextManager

import streamlit as st

ACTIONS_KEY = "actions"
# the app's own style (no model text in it). The keyed container sits in a wrapper of its own
# size, so the wrapper is what sticks; the bar is opaque, in the theme's background.
_STYLE = """<style>
div:has(> .st-key-{key}) {{
  position: sticky; bottom: 0; z-index: 100;
  background: {background};
  border-top: 1px solid rgba(49, 51, 63, 0.2);
  padding: 0.5rem 0 0.75rem;
}}
</style>"""


def action_bar() -> AbstractContextManager:
    """A container for the choice buttons, kept at the bottom of the window."""
    background = st.get_option("theme.backgroundColor") or "#ffffff"
    st.html(_STYLE.format(key=ACTIONS_KEY, background=background))
    return st.container(horizontal=True, key=ACTIONS_KEY, gap="small")
