"""The server `factory annotate app` starts: Streamlit's own (st.App, on uvicorn) with the
session routes added through its documented ``routes`` hook, and st.login's settings passed
as secrets when OIDC is configured. ``streamlit run annotation_ui/server.py`` finds ``app``.

Which client a request comes from (the per-client log-in back-off) is uvicorn's
ProxyHeadersMiddleware's answer: it believes X-Forwarded-For only from the addresses in
FORWARDED_ALLOW_IPS, which `factory annotate app` sets from FACTORY_ANNOTATION_TRUSTED_PROXIES
(uvicorn would otherwise trust 127.0.0.1)."""

from __future__ import annotations

import streamlit as st

from annotation_ui.oidc import streamlit_secrets
from annotation_ui.session_routes import routes
from factory.config import Settings

app = st.App("app.py", routes=routes(), secrets=streamlit_secrets(Settings()))
