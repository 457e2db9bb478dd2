"""Entry point: `factory annotate app` (or `streamlit run annotation_ui/app.py`).

Nothing but the login page exists until someone logs in; the admin pages are not even in the
navigation of an annotator (and check the role again when drawn). Pages are files under
views/, so a page that is not registered for a user cannot be reached by its URL either."""

from __future__ import annotations

import streamlit as st

from annotation_ui.state import current_user, log_out

st.set_page_config(page_title="Annotation", layout="wide")
user = current_user()
if user is None:
    pages = [st.Page("views/login.py", title="Log in", default=True)]
else:
    pages = [st.Page("views/annotate.py", title="Annotate", default=True)]
    if user.role == "admin":
        pages += [st.Page("views/progress.py", title="Progress"),
                  st.Page("views/data.py", title="Data"),
                  st.Page("views/operations.py", title="Operations"),
                  st.Page("views/lockouts.py", title="Lockouts")]
    with st.sidebar:
        st.write(f"Logged in as **{user.name}** ({user.role})")
        if st.button("Log out", key="logout"):
            log_out()
            st.rerun()
st.navigation(pages).run()
