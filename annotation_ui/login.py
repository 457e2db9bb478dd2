"""The only page anyone sees before logging in."""

from __future__ import annotations

import streamlit as st

from annotation_ui.state import User, log_in, sessions
from factory.annotation import lockouts


def _client() -> str | None:
    """The address the request came from (the proxy's, behind one): the per-client key."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no request (a test's app): no per-client key
        return None
    return address if isinstance(address, str) and address else None


def page() -> None:
    st.title("Annotation: log in")
    with st.form("login"):
        name = st.text_input("Name")
        password = st.text_input("Password", type="password")
        sent = st.form_submit_button("Log in")
    if sent:
        try:
            with sessions().begin() as s:
                found = lockouts.log_in(s, name, password, _client())
                user = User(found.id, found.name, found.role) if found else None
        except lockouts.LockedOut as locked:
            st.error(locked.message())
            return
        if user is None:
            st.error("Wrong name or password.")
        else:
            log_in(user)
            st.rerun()
