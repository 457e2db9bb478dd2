"""Admin page: who is logged in, and ending a person's sessions (all their tabs and
devices), say for a lost laptop or an account being closed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotation_ui.state import require_admin, sessions, settings
from factory.annotation import login_sessions


def sessions_page() -> None:
    require_admin()
    st.title("Log-in sessions")
    cfg = settings()
    st.caption(f"A session ends after {cfg.annotation_session_idle_minutes:g} minutes "
               f"without activity, {cfg.annotation_session_hours:g} hours after it began, "
               "or when revoked.")
    with sessions()() as s:
        rows = login_sessions.live(s, login_sessions.Policy.of(cfg))
    if not rows:
        st.info("Nobody is logged in.")
        return
    st.dataframe(pd.DataFrame(rows).drop(columns="annotator_id"), hide_index=True)
    people = {r["annotator_id"]: r["annotator"] for r in rows}
    chosen = st.multiselect("End every session of", list(people), format_func=people.get,
                            key="revoke-ids")
    if st.button("End their sessions", key="revoke", disabled=not chosen):
        with sessions().begin() as s:
            for annotator_id in chosen:
                login_sessions.end_all(s, annotator_id)
        st.rerun()
