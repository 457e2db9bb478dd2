"""The only page anyone sees before logging in: the built-in accounts (through the back-off
in lockouts.py) and, when configured, the team's identity provider (st.login). Either way
the app then starts a session (state.start_session)."""

from __future__ import annotations

import streamlit as st

from annotation_ui.oidc import verified_email
from annotation_ui.state import sessions, settings, start_session
from factory.annotation import lockouts
from factory.annotation.accounts import by_email
from factory.annotation.login_sessions import Ended
from factory.config import Settings


def _client() -> str | None:
    """The client's address: the per-client key. Behind a proxy named in
    FACTORY_ANNOTATION_TRUSTED_PROXIES this is the address it forwards, otherwise the
    connection's own (server.py); Streamlit gives none for a loopback client."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no request (a test's app): no per-client key
        return None
    return address if isinstance(address, str) and address else None


def _why_ended(cfg: Settings) -> str | None:
    ended = st.session_state.get("ended")
    if ended == Ended.idle:
        return (f"Your session ended after {cfg.annotation_session_idle_minutes:g} minutes "
                "without activity. Log in again.")
    if ended == Ended.expired:
        return (f"Your session reached its limit of {cfg.annotation_session_hours:g} hours. "
                "Log in again.")
    if ended == Ended.revoked:
        return "You were logged out (here, in another tab, or by an admin)."
    return None


def _password_form() -> None:
    with st.form("login"):
        name = st.text_input("Name")
        password = st.text_input("Password", type="password")
        sent = st.form_submit_button("Log in")
    if not sent:
        return
    client = _client()
    try:
        with sessions().begin() as s:
            found = lockouts.log_in(s, name, password, client)
            found_id = found.id if found else None
    except lockouts.LockedOut as locked:
        st.error(locked.message())
        return
    if found_id is None:
        st.error("Wrong name or password.")
    else:
        start_session(found_id, "password", client)


def _identity_provider(cfg: Settings) -> None:
    """Offer st.login; once the provider has answered, its verified email names the
    account."""
    if not st.user.get("is_logged_in"):
        st.button(f"Log in with {cfg.annotation_oidc_label}", key="oidc", on_click=st.login)
        return
    email = verified_email(st.user.to_dict(), cfg.annotation_oidc_trust_unverified_email)
    with sessions()() as s:
        found = by_email(s, email) if email else None
        found_id = found.id if found else None
    if found_id is None:
        st.error(f"No annotator account is named {email or 'by a verified email'}: ask an "
                 "admin to add one.")
        st.button("Log out of single sign-on", key="oidc-logout", on_click=st.logout)
        return
    start_session(found_id, "oidc", _client())


def page() -> None:
    cfg = settings()
    st.title("Annotation: log in")
    why = _why_ended(cfg)
    if why:
        st.info(why)
    if cfg.oidc_enabled:
        _identity_provider(cfg)
        st.caption("or with a name and password:")
    _password_form()
