"""The app's store and who is logged in. Pages ask for a user or an admin before drawing."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from db.session import sessionmaker_for
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


def current_user() -> User | None:
    return st.session_state.get("user")


def log_in(user: User) -> None:
    st.session_state["user"] = user


def log_out() -> None:
    st.session_state.clear()


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
