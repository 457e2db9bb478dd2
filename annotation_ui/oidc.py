"""OpenID Connect log-in through Streamlit's st.login, for teams with an identity provider.

Configured by the FACTORY_ANNOTATION_OIDC_* settings, which become st.login's ``[auth]``
secrets (server.py). The provider's verified email names the annotator account (one it does
not mark verified names nobody, unless FACTORY_ANNOTATION_OIDC_TRUST_UNVERIFIED_EMAIL); the
app then starts a factory session as for a password, so the idle timeout, log-out and
revocation are the same for both."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from factory.config import Settings


def streamlit_secrets(settings: Settings) -> dict[str, Any] | None:
    """st.login's ``[auth]`` section, or None when OIDC is not configured."""
    if not settings.oidc_enabled:
        return None
    cookie_secret = (settings.annotation_oidc_cookie_secret.get_secret_value()
                     or secrets.token_hex(32))
    return {"auth": {
        "redirect_uri": settings.annotation_oidc_redirect_uri,
        "cookie_secret": cookie_secret,
        "client_id": settings.annotation_oidc_client_id,
        "client_secret": settings.annotation_oidc_client_secret.get_secret_value(),
        "server_metadata_url": settings.annotation_oidc_metadata_url,
    }}


def verified_email(claims: Mapping[str, Any], trust_unverified: bool = False) -> str | None:
    """The email the identity provider vouches for, or None: missing, or not marked verified
    (``email_verified`` true, or "true" as some providers send it) unless the
    FACTORY_ANNOTATION_OIDC_TRUST_UNVERIFIED_EMAIL opt-in says this provider's are."""
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        return None
    verified = claims.get("email_verified")
    if not trust_unverified and verified is not True and verified != "true":  # 1 == True
        return None
    return email.strip()
