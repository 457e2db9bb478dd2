"""The only page anyone sees before logging in."""

from __future__ import annotations

import streamlit as st

from annotation_ui.state import User, log_in, sessions
from factory.annotation.accounts import authenticate


def page() -> None:
    st.title("Annotation: log in")
    with st.form("login"):
        name = st.text_input("Name")
        password = st.text_input("Password", type="password")
        sent = st.form_submit_button("Log in")
    if sent:
        with sessions().begin() as s:
            found = authenticate(s, name, password)
            user = User(found.id, found.name, found.role) if found else None
        if user is None:
            st.error("Wrong name or password.")
        else:
            log_in(user)
            st.rerun()
