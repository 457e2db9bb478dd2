"""Entry point: `factory annotate app` (or `streamlit run annotation_ui/app.py`).

Nothing but the login page exists until someone logs in; the admin pages are not even in the
navigation of an annotator (and check the role again when drawn)."""

from __future__ import annotations

import streamlit as st

from annotation_ui import admin, annotate, login
from annotation_ui.state import current_user, log_out

st.set_page_config(page_title="Annotation", layout="wide")
user = current_user()
if user is None:
    pages = [st.Page(login.page, title="Log in", url_path="login", default=True)]
else:
    pages = [st.Page(annotate.page, title="Annotate", url_path="annotate", default=True)]
    if user.role == "admin":
        pages += [st.Page(admin.progress_page, title="Progress", url_path="progress"),
                  st.Page(admin.data_page, title="Data", url_path="data")]
    with st.sidebar:
        st.write(f"Logged in as **{user.name}** ({user.role})")
        if st.button("Log out", key="logout"):
            log_out()
            st.rerun()
st.navigation(pages).run()
