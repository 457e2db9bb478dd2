"""The server `factory annotate app` starts: Streamlit's own (st.App, on uvicorn) with the
session routes added through its documented ``routes`` hook, and st.login's settings passed
as secrets when OIDC is configured.

Start it with `factory annotate app` only. Which client a request comes from (the per-client
log-in back-off) is uvicorn's ProxyHeadersMiddleware's answer: it believes X-Forwarded-For
only from the addresses in FORWARDED_ALLOW_IPS, which `factory annotate app` sets from
FACTORY_ANNOTATION_TRUSTED_PROXIES. Setting it here would be too late: Streamlit 1.67's
`streamlit run` builds uvicorn's Config (which reads FORWARDED_ALLOW_IPS) before it imports
this file, so under a bare `streamlit run annotation_ui/server.py` uvicorn trusts its default,
127.0.0.1 and ::1, whatever the setting says; this file then logs a warning."""

from __future__ import annotations

import logging
import os

import streamlit as st

from annotation_ui.oidc import streamlit_secrets
from annotation_ui.session_routes import routes
from factory.config import Settings


def warn_if_proxies_unset(settings: Settings) -> bool:
    """Warn (and say so) when uvicorn was not told whom to trust as `factory annotate app`
    tells it."""
    told = os.environ.get("FORWARDED_ALLOW_IPS")
    if told == settings.annotation_trusted_proxies:
        return False
    logging.getLogger(__name__).warning(
        "not started by `factory annotate app`: uvicorn believes X-Forwarded-For from %s, "
        "not from FACTORY_ANNOTATION_TRUSTED_PROXIES (%s)",
        "127.0.0.1,::1" if told is None else repr(told),
        settings.annotation_trusted_proxies or "nobody")
    return True


_settings = Settings()
warn_if_proxies_unset(_settings)
app = st.App("app.py", routes=routes(), secrets=streamlit_secrets(_settings))
