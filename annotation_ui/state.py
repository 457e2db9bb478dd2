"""The app's store and who is logged in. Pages ask for a user or an admin before drawing.

Who is logged in is the session the browser's HttpOnly cookie names (set by the server:
session_routes.py), looked up in the store on every run; so a reload, a second tab or a
followed link finds the same session, and a log-out or a revocation anywhere ends it here
at the next click. The cookie is the one the tab sent when it connected."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.session_routes import COOKIE, END, START, base_path, under
from db.session import sessionmaker_for
from factory.annotation import login_sessions
from factory.config import Settings


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str


@st.cache_resource
def _sessions(url: str) -> sessionmaker[Session]:
    return sessionmaker_for(url)


def settings() -> Settings:
    return Settings()


def sessions() -> sessionmaker[Session]:
    return _sessions(settings().database_url)


def session_cookie() -> str | None:
    return st.context.cookies.get(COOKIE)


def resolve_user(touch: bool = True) -> User | None:
    """Who this run is for, from the cookie; remembers why a session ended, for the login
    page (nothing is said about a cookie the store never issued). ``touch=False`` for runs
    nobody asked for (a timed redraw), which must not keep an idle session alive."""
    with sessions().begin() as s:
        found, ended = login_sessions.find(s, session_cookie(),
                                           login_sessions.Policy.of(settings()), touch=touch)
        user = User(found.id, found.name, found.role) if found else None
    st.session_state["user"] = user
    st.session_state["ended"] = None if ended == login_sessions.Ended.unknown else ended
    return user


def current_user() -> User | None:
    return st.session_state.get("user")


def still_admin() -> bool:
    """For a fragment redrawn on a timer (``run_every``), which reruns only itself, never the
    app script that checks the session: is the session this tab was drawn for still an
    admin's? False once it ended (a log-out elsewhere, an admin, the idle or lifetime limit);
    the caller then reruns the whole app, which shows the login page and says why. Not
    counted as use, so a tab left open still goes idle."""
    drawn_for = current_user()
    user = resolve_user(touch=False)
    return user is not None and user == drawn_for and user.role == "admin"


P = ParamSpec("P")


def in_session(callback: Callable[Concatenate[User, P], None]
               ) -> Callable[Concatenate[User, P], None]:
    """For widget callbacks, which Streamlit runs before the script, so before it looks at
    the session: one whose session ended meanwhile (a log-out in another tab, an admin, the
    idle timeout) does nothing, and the script then shows the login page."""
    @functools.wraps(callback)
    def guarded(user: User, *args: P.args, **kwargs: P.kwargs) -> None:
        if resolve_user() == user:
            callback(user, *args, **kwargs)
    return guarded


def hand_off(path: str, fields: dict[str, str]) -> None:
    """Have the browser POST ``fields`` (and the page it is on, as ``next``) to a session
    route (``path``, under the app's base path) and follow its redirect: the only way a
    cookie the server sets reaches the page. The script is this fixed text; the values are
    our own tokens, JSON-encoded."""
    data = json.dumps(fields).replace("<", "\\u003c")
    path = under(base_path(), path)
    st.html(f"""<p>One moment…</p><script>
(() => {{
  const form = document.createElement("form");
  form.method = "post";
  form.action = new URL({json.dumps(path)}, window.location.origin).href;
  const fields = Object.assign({data}, {{next: window.location.pathname}});
  for (const [name, value] of Object.entries(fields)) {{
    const input = document.createElement("input");
    input.type = "hidden"; input.name = name; input.value = value;
    form.appendChild(input);
  }}
  document.body.appendChild(form);
  form.submit();
}})();
</script>""", unsafe_allow_javascript=True)
    st.stop()


def start_session(annotator_id: int, method: str, client: str | None) -> None:
    """The person is who they say: a ticket, traded by the browser for the session cookie."""
    with sessions().begin() as s:
        ticket = login_sessions.issue_ticket(s, annotator_id, method, client)
    hand_off(START, {"ticket": ticket})


def log_out(everywhere: bool = False) -> None:
    """End this session (in every tab that shares it), or every session of this person
    (all tabs and devices), then clear the cookie."""
    user = current_user()
    with sessions().begin() as s:
        if everywhere and user is not None:
            login_sessions.end_all(s, user.id)
        else:
            login_sessions.end(s, session_cookie())
    st.session_state.clear()
    hand_off(END, {})


def require_user() -> User:
    user = current_user()
    if user is None:
        st.error("Log in first.")
        st.stop()
    return user


def require_admin() -> User:
    user = require_user()
    if user.role != "admin":
        st.error("This page is for admins.")
        st.stop()
    return user
