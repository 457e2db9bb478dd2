"""The app's script, served by `factory annotate app` (annotation_ui/server.py: Streamlit's
server plus the session routes, without which nobody can log in).

Who is logged in comes from the session cookie on every run (state.resolve_user). Nothing
but the login page exists until someone logs in; the admin pages are not even in the
navigation of an annotator (and check the role again when drawn). Pages are files under
views/, so a page that is not registered for a user cannot be reached by its URL either."""

from __future__ import annotations

import streamlit as st

from annotation_ui.state import log_out, resolve_user

st.set_page_config(page_title="Annotation", layout="wide")
user = resolve_user()
if user is None:
    pages = [st.Page("views/login.py", title="Log in", default=True)]
else:
    pages = [st.Page("views/annotate.py", title="Annotate", default=True)]
    if user.role == "admin":
        pages += [st.Page("views/progress.py", title="Progress"),
                  st.Page("views/data.py", title="Data"),
                  st.Page("views/operations.py", title="Operations"),
                  st.Page("views/lockouts.py", title="Lockouts"),
                  st.Page("views/sessions.py", title="Sessions")]
    with st.sidebar:
        st.write(f"Logged in as **{user.name}** ({user.role})")
        if st.button("Log out", key="logout", help="ends this session in every tab"):
            log_out()
        if st.button("Log out everywhere", key="logout-all",
                     help="ends all your sessions, on every device"):
            log_out(everywhere=True)
st.navigation(pages).run()
